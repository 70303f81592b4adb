"""The PostgreSQL change data capture source: a table's inserts, updates and deletes from a logical replication slot.

Why test_decoding over a normal connection rather than pgoutput over a replication
connection: test_decoding ships with every PostgreSQL, needs no publication, and its
``pg_logical_slot_peek_changes`` reads the slot *without consuming it* through the same
SQLAlchemy engine as every other source. Peeking is what makes a run crash-safe: the
slot moves only when ``after_commit`` is called with the watermark of a committed load
(``pg_replication_slot_advance``), so a run that dies re-reads the same changes, and
applying them again (upsert/delete by key) gives the same table. pgoutput would need a
publication per table, a replication-protocol connection and feedback messages to the
same end, with binary tuples to decode.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from pydantic import Field, field_validator
from sqlalchemy.engine import Connection, Engine

from etl_studio.core.cdc.apply import CHANGE_COLUMNS, LSN_COLUMN, OP_COLUMN, UNCHANGED_COLUMN
from etl_studio.core.cdc.decoding import DecodingError, RowChange, parse_change
from etl_studio.core.cdc.slots import (
    SlotStatus,
    advance_slot,
    check_slot_name,
    check_wal_level,
    create_slot,
    drop_slot,
    format_lsn,
    require_slot,
    slot_status,
)
from etl_studio.core.connections import describe_url, explain_db_error
from etl_studio.core.errors import ConfigError, ConnectionFailedError, DataError, InvalidInputError, TransientError
from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import sources
from etl_studio.core.sources._frames import TEXT, values_to_series
from etl_studio.core.sources.base import Source
from etl_studio.core.sources.sql_table import arrow_type_for, split_table_name

_PEEK = sa.text(
    "select lsn::text, data from pg_logical_slot_peek_changes(:slot, cast(:upto as pg_lsn), NULL, "
    "'include-xids', '0', 'skip-empty-xacts', '1')"
)


class PgCdcConfig(PluginConfig):
    connection: str = Field("", description="Name of the project's PostgreSQL connection")
    slot: str = Field("", description="Logical replication slot to read (test_decoding), e.g. etl_orders; create it from the app or `etl-studio cdc`")
    table: str = Field("", description='Table whose changes are read, e.g. "orders" or "sales.orders"; changes of other tables are skipped')

    @field_validator("slot")
    @classmethod
    def _slot_name(cls, value: str) -> str:
        if value:
            try:
                check_slot_name(value)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return value


@sources.register("pg_cdc")
class PgCdcSource(Source):
    """Yields the table's columns plus ``__op__`` (insert/update/delete/truncate), ``__lsn__`` and ``__unchanged__``.

    Rows come in commit order (the order to apply them), within a transaction in the order
    they were made; ``__lsn__`` is each change's WAL position, zero-padded (``00000000/2E9E9628``)
    so it sorts as text. A delete holds the key columns (all columns with REPLICA IDENTITY
    FULL) and NULL elsewhere; an update that changed the key comes as a delete of the old key
    followed by an update. ``__unchanged__`` lists, as JSON, columns an update did not send
    (unchanged TOASTed values), which an apply must leave as they are.

    The slot is read, never consumed: call ``after_commit(source.watermark)`` once the
    load committed. ``watermark`` is the end of the last transaction read completely.
    """

    config_model = PgCdcConfig
    change_columns = CHANGE_COLUMNS
    commits_position = True
    title = "PostgreSQL changes (CDC)"
    description = "Reads a table's inserts, updates and deletes from a PostgreSQL logical replication slot"

    config: PgCdcConfig

    def __init__(self, config: PgCdcConfig, context: Any) -> None:
        super().__init__(config, context)
        self.watermark: str | None = None  # set while reading: the LSN to advance the slot to after commit

    # -- connecting ---------------------------------------------------------------------------

    def engine(self) -> Engine:
        if not self.config.connection:
            raise ConfigError("no connection chosen: set the source's connection")
        if self.context.connections is None:
            raise ConfigError(f"connection '{self.config.connection}' is not available here (no project connections)")
        try:
            engine = self.context.connections.engine(self.config.connection)
        except ConfigError:
            raise
        except InvalidInputError as exc:
            raise ConfigError(str(exc)) from None
        if engine.dialect.name != "postgresql":
            raise ConfigError(f"connection '{self.config.connection}' is {engine.dialect.name}: change data capture reads PostgreSQL only")
        return engine

    def _connect(self, engine: Engine) -> Connection:
        try:
            return engine.connect()
        except sa.exc.DBAPIError as exc:
            raise ConnectionFailedError(f"connection '{self.config.connection}' ({describe_url(engine.url)}): {explain_db_error(exc)}") from None

    def _slot(self) -> str:
        if not self.config.slot:
            raise ConfigError("no replication slot named: set the source's slot")
        return self.config.slot

    # -- slot management (the app's buttons and `etl-studio cdc` call these) ---------------------

    def create_slot(self) -> SlotStatus:
        return create_slot(self.engine(), self._slot())

    def drop_slot(self, missing_ok: bool = False) -> bool:
        return drop_slot(self.engine(), self._slot(), missing_ok=missing_ok)

    def slot_status(self) -> SlotStatus | None:
        with self._connect(self.engine()) as conn:
            return slot_status(conn, self._slot())

    def after_commit(self, watermark: str | None) -> None:
        """Advance the slot past the changes a committed load holds. Never call it before the commit.

        Safe to repeat, and to call at the start of a run with the watermark of the last
        committed load (from the control table): a slot is never moved backwards.
        """
        if watermark:
            position = advance_slot(self.engine(), self._slot(), watermark)
            self.context.logger.info("replication slot %s advanced to %s", self._slot(), position)

    # -- reading ------------------------------------------------------------------------------

    def read_chunks(self, chunk_size: int, limit: int | None = None) -> Iterator[pd.DataFrame]:
        self.context.check_cancelled()
        chunk_size = max(1, chunk_size)
        slot = self._slot()
        if not self.config.table:
            raise ConfigError("set the table whose changes to read")
        engine = self.engine()
        self.watermark = None
        conn = self._connect(engine)
        try:
            try:
                check_wal_level(conn)
                require_slot(conn, slot)
                schema, table = self._table(conn)
                columns = sa.Table(table, sa.MetaData(), schema=schema, autoload_with=conn).columns
                # Reading stops at the WAL position of now, so a run on a busy server ends.
                upto = conn.execute(sa.text("select pg_current_wal_lsn()::text")).scalar_one()
                result = conn.execution_options(stream_results=True, max_row_buffer=max(chunk_size, 100)).execute(
                    _PEEK, {"slot": slot, "upto": upto}
                )
            except sa.exc.DBAPIError as exc:
                raise self._failure(exc, f"reading replication slot '{slot}'") from None
            names = [c.name for c in columns]
            types = [_arrow_type(c.type) for c in columns]
            keys = [c.name for c in columns if c.primary_key]
            yield from self._chunks(result, schema, table, names, types, keys, chunk_size, limit)
        finally:
            conn.close()

    def _chunks(
        self, result: sa.CursorResult[Any], schema: str, table: str, names: list[str], types: list[pa.DataType | None],
        keys: list[str], chunk_size: int, limit: int | None,
    ) -> Iterator[pd.DataFrame]:
        pending: list[tuple[str, RowChange, str]] = []  # (op, change with values, lsn)
        start = 0
        while True:
            try:
                row = result.fetchone()
            except sa.exc.DBAPIError as exc:
                raise self._failure(exc, f"reading replication slot '{self.config.slot}'") from None
            if row is None:
                break
            lsn, data = format_lsn(row[0]), row[1]
            if data.startswith("BEGIN"):
                continue
            if data.startswith("COMMIT"):
                # Every row of this transaction was read: the slot may move past its end.
                self.watermark = lsn
                continue
            try:
                change = parse_change(data)
            except DecodingError as exc:
                raise DataError(f"replication slot '{self.config.slot}': {exc}") from None
            if change is None or not _concerns(change, schema, table):
                continue
            for op, values in _row_changes(change, keys, table):
                if limit is not None and start + len(pending) >= limit:
                    break
                pending.append((op, values, lsn))
            if limit is not None and start + len(pending) >= limit:
                break
            if len(pending) >= chunk_size:
                self.context.check_cancelled()
                yield _frame(pending[:chunk_size], names, types, start)
                start += chunk_size
                del pending[:chunk_size]
        if pending or start == 0:
            self.context.check_cancelled()
            yield _frame(pending, names, types, start)

    def _table(self, conn: Connection) -> tuple[str, str]:
        schema, name = split_table_name(self.config.table)
        schema = schema or conn.execute(sa.text("select current_schema()")).scalar_one()
        found = conn.execute(
            sa.text(
                "select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname = :schema and c.relname = :name and c.relkind in ('r', 'p')"
            ),
            {"schema": schema, "name": name},
        ).first()
        if found is None:
            raise ConfigError(f"connection '{self.config.connection}': no table '{schema}.{name}' to capture changes of")
        return schema, name

    def _failure(self, exc: sa.exc.DBAPIError, what: str) -> Exception:
        message = f"connection '{self.config.connection}': {what}: {explain_db_error(exc)}"
        if exc.connection_invalidated:
            return TransientError(message)
        if "is active for pid" in message.lower():
            return ConfigError(message + "; another run or program is reading this slot right now")
        if isinstance(exc, sa.exc.OperationalError):
            return ConnectionFailedError(message)
        return ConfigError(message)

    def estimate_rows(self) -> int | None:
        return None  # counting pending changes means decoding them all


def _concerns(change: RowChange, schema: str, table: str) -> bool:
    if change.op == "truncate":
        return (schema, table) in change.tables
    return (change.schema, change.table) == (schema, table)


def _row_changes(change: RowChange, keys: list[str], table: str) -> Iterator[tuple[str, RowChange]]:
    if change.op == "delete" and not change.values:
        raise DataError(
            f"a delete from {table} carries no key: give the table a primary key or run ALTER TABLE {table} REPLICA IDENTITY FULL"
        )
    if change.op == "update" and change.old_key is not None:
        old_key = {k: v for k, v in change.old_key.items() if not keys or k in keys}
        new_key = {k: change.values.get(k) for k in old_key}
        if old_key != new_key:
            # The key itself changed: the old row goes, the new one comes.
            yield "delete", RowChange(change.schema, change.table, "delete", old_key)
    yield change.op, change


def _frame(pending: list[tuple[str, RowChange, str]], names: list[str], types: list[pa.DataType | None], start: int) -> pd.DataFrame:
    columns: dict[str, pd.Series] = {}
    for name, arrow_type in zip(names, types):
        columns[name] = values_to_series([change.values.get(name) for _, change, _ in pending], arrow_type)
    columns[OP_COLUMN] = pd.Series(pd.array([op for op, _, _ in pending], dtype=TEXT))
    columns[LSN_COLUMN] = pd.Series(pd.array([lsn for _, _, lsn in pending], dtype=TEXT))
    columns[UNCHANGED_COLUMN] = pd.Series(
        pd.array([json.dumps(list(change.unchanged)) if change.unchanged else None for _, change, _ in pending], dtype=TEXT)
    )
    frame = pd.DataFrame(columns)
    frame.index = pd.RangeIndex(start, start + len(pending))
    return frame


def _arrow_type(column_type: sa.types.TypeEngine[Any]) -> pa.DataType | None:
    """As the sql_table source reads the column, plus timestamps, so a chunk of deletes (NULLs) keeps the type."""
    if isinstance(column_type, sa.DateTime):
        return pa.timestamp("us", tz="UTC") if column_type.timezone else pa.timestamp("us")
    return arrow_type_for(column_type)
