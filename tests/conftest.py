"""Shared fixtures: offscreen Qt, real database servers (fail instead of skip under CI=true)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "resources" / "examples"
POSTGRES_URL = os.environ.get("ETL_STUDIO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("ETL_STUDIO_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _server_or_skip(url: str, what: str) -> str:
    import sqlalchemy as sa

    from etl_studio.core.connections import build_url
    from etl_studio.core.project.models import Connection

    engine = sa.create_engine(build_url(Connection(name="t", url=url), REPO), connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "server not usable"
        message = f"{what} test server at {url} is not reachable: {str(exc).splitlines()[0]}"
        if IN_CI:
            pytest.fail(message + " (CI=true: database tests must not be skipped)")
        pytest.skip(message)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the real PostgreSQL test database (as written in a project file)."""
    return _server_or_skip(POSTGRES_URL, "PostgreSQL")


@pytest.fixture(scope="session")
def mysql_url() -> str:
    """URL of the real MariaDB/MySQL test database (as written in a project file)."""
    return _server_or_skip(MYSQL_URL, "MariaDB")


@pytest.fixture
def table_name() -> str:
    """A fresh table name, so tests never see each other's rows."""
    return f"t_{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on SQLite, the real PostgreSQL and the real MariaDB."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'target.db'}"
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return request.getfixturevalue("mysql_url")
