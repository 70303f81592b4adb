"""Logical replication slots: create, drop, inspect and advance them; explain a wal_level that is not 'logical'."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from etl_studio.core.connections import explain_db_error
from etl_studio.core.errors import ConfigError, ConnectionFailedError, EtlError

# test_decoding ships with PostgreSQL (contrib, in every server package) and is read over a
# plain SQL connection, so CDC needs no publication and no replication-protocol connection.
PLUGIN = "test_decoding"
_SLOT_NAME = re.compile(r"^[a-z0-9_]{1,63}$")


@dataclass(frozen=True)
class SlotStatus:
    name: str
    plugin: str
    database: str
    active: bool
    confirmed_lsn: str | None  # changes committed up to here were loaded (the slot's position)
    current_lsn: str  # the server's WAL position now
    retained_bytes: int | None  # WAL the server keeps for this slot; grows while nobody reads it

    def describe(self) -> str:
        kept = "-" if self.retained_bytes is None else _size(self.retained_bytes)
        return (
            f"slot {self.name} ({self.plugin}, database {self.database}): {'in use' if self.active else 'idle'}, "
            f"at {self.confirmed_lsn or '-'}, server at {self.current_lsn}, WAL kept for it: {kept}"
        )


def wal_level_problem(wal_level: str) -> str | None:
    """None when ``wal_level`` allows logical decoding, else what to do about it, in one message."""
    if wal_level.strip().lower() == "logical":
        return None
    return (
        f"PostgreSQL's wal_level is '{wal_level}', but change data capture needs 'logical'. "
        "As a superuser run: ALTER SYSTEM SET wal_level = logical; then restart the PostgreSQL server "
        "(a reload is not enough), e.g. sudo systemctl restart postgresql"
    )


def check_slot_name(name: str) -> str:
    if not _SLOT_NAME.match(name or ""):
        raise ConfigError(f"slot name {name!r}: use 1 to 63 lower-case letters, digits and underscores (PostgreSQL's rule)")
    return name


def format_lsn(lsn: str) -> str:
    """'0/2E9E9628' -> '00000000/2E9E9628': fixed width, so LSNs sort correctly as text."""
    high, _, low = lsn.partition("/")
    return f"{int(high, 16):08X}/{int(low, 16):08X}"


def lsn_number(lsn: str) -> int:
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def _size(count: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return str(count)  # pragma: no cover


def _require_postgresql(bind: Engine | Connection) -> None:
    if bind.dialect.name != "postgresql":
        raise ConfigError(f"change data capture reads PostgreSQL only; this connection is {bind.dialect.name}")


def _failure(exc: sa.exc.DBAPIError, what: str) -> EtlError:
    message = explain_db_error(exc)
    lowered = message.lower()
    if "permission denied" in lowered or "must be superuser or replication role" in lowered:
        return ConfigError(f"{what}: {message}; the user needs the REPLICATION attribute (ALTER ROLE <user> REPLICATION) or superuser")
    if "all replication slots are in use" in lowered:
        return ConfigError(f"{what}: {message}; drop an unused slot or raise max_replication_slots (then restart the server)")
    if "is active for pid" in lowered:
        return ConfigError(f"{what}: {message}; another run or program is reading this slot right now")
    if isinstance(exc, sa.exc.OperationalError):
        return ConnectionFailedError(f"{what}: {message}")
    return ConfigError(f"{what}: {message}")


def check_wal_level(conn: Connection) -> None:
    _require_postgresql(conn)
    problem = wal_level_problem(str(conn.execute(sa.text("show wal_level")).scalar_one()))
    if problem:
        raise ConfigError(problem)


def slot_status(conn: Connection, name: str) -> SlotStatus | None:
    """The slot as the server sees it, or None when there is no slot of that name."""
    _require_postgresql(conn)
    row = conn.execute(
        sa.text(
            "select slot_name, coalesce(plugin, ''), coalesce(database, ''), active, confirmed_flush_lsn::text, "
            "pg_current_wal_lsn()::text, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint "
            "from pg_replication_slots where slot_name = :name"
        ),
        {"name": name},
    ).first()
    if row is None:
        return None
    return SlotStatus(
        name=row[0], plugin=row[1], database=row[2], active=bool(row[3]),
        confirmed_lsn=format_lsn(row[4]) if row[4] else None, current_lsn=format_lsn(row[5]),
        retained_bytes=None if row[6] is None else int(row[6]),
    )


def require_slot(conn: Connection, name: str) -> SlotStatus:
    """The slot, checked to be a test_decoding slot of this database; a ConfigError saying what to do otherwise."""
    status = slot_status(conn, name)
    if status is None:
        raise ConfigError(
            f"replication slot '{name}' does not exist: create it with `etl-studio cdc PROJECT --pipeline NAME create-slot` "
            "(or the Create slot button); changes made before it exists are not captured"
        )
    if status.plugin != PLUGIN:
        raise ConfigError(f"replication slot '{name}' uses the {status.plugin or 'physical'} plugin; this source reads {PLUGIN} slots")
    database = conn.execute(sa.text("select current_database()")).scalar_one()
    if status.database != database:
        raise ConfigError(f"replication slot '{name}' belongs to database '{status.database}', not '{database}'")
    return status


def _autocommit(bind: Engine | Connection) -> Connection:
    engine = bind if isinstance(bind, Engine) else bind.engine
    # Creating a logical slot is refused inside a transaction that wrote anything; slot
    # management runs outside any transaction of the caller's.
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def create_slot(bind: Engine | Connection, name: str) -> SlotStatus:
    """Create a logical replication slot; changes committed from now on are kept until read and advanced."""
    check_slot_name(name)
    _require_postgresql(bind)
    with _autocommit(bind) as conn:
        try:
            check_wal_level(conn)
            if slot_status(conn, name) is not None:
                raise ConfigError(f"replication slot '{name}' already exists")
            conn.execute(sa.text("select pg_create_logical_replication_slot(:name, :plugin)"), {"name": name, "plugin": PLUGIN})
            status = slot_status(conn, name)
        except sa.exc.DBAPIError as exc:
            raise _failure(exc, f"creating replication slot '{name}'") from None
    assert status is not None
    return status


def drop_slot(bind: Engine | Connection, name: str, *, missing_ok: bool = False) -> bool:
    """Drop the slot (the server then frees the WAL it kept); False if it did not exist and ``missing_ok``."""
    check_slot_name(name)
    _require_postgresql(bind)
    with _autocommit(bind) as conn:
        try:
            if slot_status(conn, name) is None:
                if missing_ok:
                    return False
                raise ConfigError(f"replication slot '{name}' does not exist")
            conn.execute(sa.text("select pg_drop_replication_slot(:name)"), {"name": name})
        except sa.exc.DBAPIError as exc:
            raise _failure(exc, f"dropping replication slot '{name}'") from None
    return True


def advance_slot(bind: Engine | Connection, name: str, lsn: str) -> str | None:
    """Move the slot to ``lsn`` (the end of the last transaction loaded) so those changes are not read again.

    Never moves it backwards: an ``lsn`` at or behind the slot is a no-op (so calling this
    again after a crash, with the watermark the target committed, is safe). Returns the
    slot's position afterwards.
    """
    check_slot_name(name)
    _require_postgresql(bind)
    with _autocommit(bind) as conn:
        try:
            status = require_slot(conn, name)
            if status.confirmed_lsn is not None and lsn_number(lsn) <= lsn_number(status.confirmed_lsn):
                return status.confirmed_lsn
            conn.execute(sa.text("select pg_replication_slot_advance(:name, cast(:lsn as pg_lsn))"), {"name": name, "lsn": lsn})
            after = slot_status(conn, name)
        except sa.exc.DBAPIError as exc:
            raise _failure(exc, f"advancing replication slot '{name}' to {lsn}") from None
    return after.confirmed_lsn if after else None
