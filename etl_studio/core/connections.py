"""Turns a project's connections into SQLAlchemy engines, resolving secrets only in memory."""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from etl_studio.core.context import mask_secrets, resolve_secret
from etl_studio.core.errors import ConfigError, ConnectionFailedError
from etl_studio.core.project.models import Connection, Project

_DRIVERS = {"postgresql": "postgresql+psycopg2", "mysql": "mysql+pymysql", "mariadb": "mysql+pymysql"}


def build_url(connection: Connection, project_dir: Path) -> URL:
    """The connection's URL with secrets resolved, a default driver and SQLite paths made absolute."""
    raw = resolve_secret(connection.url) if "${" in connection.url or "keyring:" in connection.url else connection.url
    try:
        url = make_url(raw)
    except Exception:
        raise ConfigError(f"connection '{connection.name}': not a valid database URL: {mask_secrets(connection.url)}") from None
    if url.drivername in _DRIVERS:
        url = url.set(drivername=_DRIVERS[url.drivername])
    if connection.password:
        url = url.set(password=resolve_secret(connection.password))
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        db = Path(url.database).expanduser()
        if not db.is_absolute():
            url = url.set(database=str((project_dir / db).resolve()))
    return url


def sqlite_file_path(url: URL) -> Path | None:
    """The file of an SQLite file database (``file:`` URIs too); None for in-memory ones and other backends."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if "memory" in str(url.query.get("mode", "")) or "mode=memory" in database:
        return None
    if database.startswith("file:"):
        database = database.removeprefix("file:").split("?", 1)[0]
    if database in ("", ":memory:"):
        return None
    return Path(database)


def sqlite_file_not_made_yet(url: URL) -> bool:
    """An SQLite file database whose file is not there: connecting would create it, empty."""
    path = sqlite_file_path(url)
    return path is not None and not path.exists()


def describe_url(url: URL) -> str:
    return url.render_as_string(hide_password=True)


class ConnectionPool:
    """One engine per connection name, created on first use and shared by all plugins of a run."""

    def __init__(self, project: Project, project_dir: Path) -> None:
        self.project = project
        self.project_dir = project_dir
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    def url(self, name: str) -> URL:
        return build_url(self.project.connection(name), self.project_dir)

    def engine(self, name: str) -> Engine:
        with self._lock:
            if name not in self._engines:
                url = self.url(name)
                kwargs: dict[str, object] = {"pool_pre_ping": True}
                if url.get_backend_name() == "sqlite":
                    kwargs = {}
                elif url.get_backend_name() == "mysql":
                    kwargs["connect_args"] = {"local_infile": True, "connect_timeout": 10}
                elif url.get_backend_name() == "postgresql":
                    kwargs["connect_args"] = {"connect_timeout": 10}
                self._engines[name] = sa.create_engine(url, **kwargs)
            return self._engines[name]

    def thread_bound(self) -> bool:
        """True when a connection of the project is an in-memory SQLite database: SQLAlchemy gives each
        thread its own (an empty one), so such a run must read and write on the threads it began on."""
        for connection in self.project.connections:
            if folder_path(connection, self.project_dir) is not None:
                continue
            try:
                url = self.url(connection.name)
            except Exception:  # noqa: BLE001 - an unusable URL fails the run elsewhere, with its own message
                continue
            if url.get_backend_name() == "sqlite" and sqlite_file_path(url) is None:
                return True
        return False

    def dispose(self) -> None:
        with self._lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


def folder_path(connection: Connection, project_dir: Path) -> Path | None:
    """The folder of a ``file:`` connection (a folder of files, not a database), else None."""
    if not connection.url.startswith("file:"):
        return None
    folder = Path(connection.url.removeprefix("file:").removeprefix("//")).expanduser()
    return folder if folder.is_absolute() else project_dir / folder


def test_connection(connection: Connection, project_dir: Path) -> str:
    """Connect once; return the server's name and version, or raise ConnectionFailedError saying why."""
    folder = folder_path(connection, project_dir)
    if folder is not None:
        if not folder.is_dir():
            raise ConnectionFailedError(f"connection '{connection.name}': folder {folder} does not exist")
        files = sum(1 for p in folder.iterdir() if p.is_file())
        return f"folder with {files} file{'s' if files != 1 else ''}"
    url = build_url(connection, project_dir)
    backend = url.get_backend_name()
    if backend == "sqlite" and url.database and url.database != ":memory:":
        folder = Path(url.database).parent
        if not folder.is_dir():
            raise ConnectionFailedError(f"connection '{connection.name}': folder {folder} does not exist")
        if not Path(url.database).exists():
            # Connecting would create an empty file: a test must not leave one behind.
            import sqlite3

            return f"SQLite {sqlite3.sqlite_version} (the file {Path(url.database).name} is created by the first load)"
    connect_args = {"connect_timeout": 5} if backend in ("postgresql", "mysql") else {}
    engine = sa.create_engine(url, connect_args=connect_args)
    try:
        with engine.connect() as conn:
            if backend == "sqlite":
                version = conn.execute(sa.text("select sqlite_version()")).scalar()
                return f"SQLite {version}"
            if backend == "postgresql":
                version = conn.execute(sa.text("show server_version")).scalar()
                return f"PostgreSQL {version}"
            version = conn.execute(sa.text("select version()")).scalar()
            return f"{'MariaDB' if 'mariadb' in str(version).lower() else 'MySQL'} {version}"
    except sa.exc.DBAPIError as exc:
        raise ConnectionFailedError(f"connection '{connection.name}' ({describe_url(url)}): {explain_db_error(exc)}") from None
    finally:
        engine.dispose()


def explain_db_error(exc: BaseException) -> str:
    """The driver's own message, first line only, without secrets."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    return mask_secrets(text)
