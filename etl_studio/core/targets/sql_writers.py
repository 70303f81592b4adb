"""Per-dialect chunk writers for the database target: COPY on PostgreSQL, batched executemany elsewhere."""

from __future__ import annotations

import io
import uuid
from abc import ABC, abstractmethod

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.dialects import mysql as mysql_dialect
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Dialect

from etl_studio.core.project.models import TargetColumn
from etl_studio.core.targets.arrow_types import chunk_to_arrow

# Neutral Arrow field name for the position of a row within its chunk (upsert: last one wins).
ROW_NUMBER_KEY = "__row"
ROW_NUMBER_COLUMN = "__etl_studio_row"
_COPY_READ_SIZE = 1 << 18  # bytes psycopg2 hands to the server per call; larger = fewer round trips


def copy_from_stdin_sql(dialect: Dialect, table: sa.Table, column_names: list[str]) -> str:
    """``COPY "schema"."table" ("a", "b") FROM STDIN WITH (FORMAT csv, ENCODING 'UTF8')``.

    SQLAlchemy has no COPY construct and identifiers cannot be bound parameters, so the
    statement is put together here from identifiers quoted by the dialect's own preparer.
    No value ever enters this text: values travel in the CSV stream.
    """
    preparer = dialect.identifier_preparer
    quoted_columns = ", ".join(preparer.quote(name) for name in column_names)
    # FORMAT csv reads an unquoted empty field as NULL and a quoted one ("") as an empty
    # string, and Arrow's CSV writer quotes every string: so '' and NULL stay apart.
    # ENCODING: the payload is UTF-8 whatever the session's client_encoding says.
    return "COPY " + preparer.format_table(table) + " (" + quoted_columns + ") FROM STDIN WITH (FORMAT csv, ENCODING 'UTF8')"


def truncate_sql(dialect: Dialect, table: sa.Table) -> str:
    """``TRUNCATE TABLE "schema"."table"`` (no SQLAlchemy construct exists; identifiers quoted by the dialect)."""
    return "TRUNCATE TABLE " + dialect.identifier_preparer.format_table(table)


def arrow_to_csv(table: pa.Table) -> io.BytesIO:
    """The rows as headerless CSV in memory, ready for COPY (Arrow's writer is ~10x DataFrame.to_csv)."""
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    buffer.seek(0)
    return buffer


class ChunkWriter(ABC):
    """Writes chunks into the open transaction of one load."""

    def __init__(self, conn: Connection, table: sa.Table, columns: list[TargetColumn], mode: str, keys: list[str]) -> None:
        self.conn = conn
        self.table = table
        self.columns = columns
        self.mode = mode
        self.keys = keys  # mapping column names
        self.field_names = [column.key for column in table.columns]

    def to_arrow(self, chunk: pd.DataFrame) -> pa.Table:
        return chunk_to_arrow(chunk, self.columns, field_names=self.field_names)

    @abstractmethod
    def write(self, chunk: pd.DataFrame) -> int:
        """Load one chunk inside the session's transaction; return rows written."""

    def prepare(self) -> None:
        """Create now whatever write() would create on first use (needed outside savepoints)."""

    def key_columns(self) -> list[sa.Column[object]]:
        by_name = {column.name: column for column in self.table.columns}
        return [by_name[name] for name in self.keys]

    def update_columns(self) -> list[sa.Column[object]]:
        return [column for column in self.table.columns if column.name not in set(self.keys)]


class PostgresCopyWriter(ChunkWriter):
    """COPY FROM STDIN straight into the table; for upsert, COPY into a temp table and merge."""

    def __init__(self, conn: Connection, table: sa.Table, columns: list[TargetColumn], mode: str, keys: list[str]) -> None:
        super().__init__(conn, table, columns, mode, keys)
        self.stage: sa.Table | None = None
        self.merge: sa.Insert | None = None

    def _copy(self, arrow: pa.Table, into: sa.Table, column_names: list[str]) -> None:
        statement = copy_from_stdin_sql(self.conn.dialect, into, column_names)
        raw = self.conn.connection.dbapi_connection
        assert raw is not None
        with raw.cursor() as cursor:
            cursor.copy_expert(statement, arrow_to_csv(arrow), size=_COPY_READ_SIZE)

    def _prepare_stage(self) -> tuple[sa.Table, sa.Insert]:
        # ON COMMIT DROP: the temp table lives exactly as long as the load's transaction,
        # and a rollback takes it away too.
        stage = sa.Table(
            "etl_studio_stage_" + uuid.uuid4().hex[:12],
            sa.MetaData(),
            *[sa.Column(c.name, c.type, key=c.key) for c in self.table.columns],
            sa.Column(ROW_NUMBER_COLUMN, sa.BigInteger, key=ROW_NUMBER_KEY),
            prefixes=["TEMPORARY"],
            postgresql_on_commit="DROP",
        )
        stage.create(self.conn)
        stage_keys = [stage.c[column.key] for column in self.key_columns()]
        # A key twice in one chunk would make ON CONFLICT fail ("cannot affect row a second
        # time"): DISTINCT ON keeps the last row of each key, as a sequence of updates would.
        rows = (
            sa.select(*[stage.c[column.key] for column in self.table.columns])
            .ext(pg_dialect.distinct_on(*stage_keys))
            .order_by(*stage_keys, stage.c[ROW_NUMBER_KEY].desc())
        )
        insert = pg_dialect.insert(self.table).from_select(list(self.table.columns), rows)
        updates = self.update_columns()
        if updates:
            merge = insert.on_conflict_do_update(
                index_elements=self.key_columns(), set_={column: insert.excluded[column.key] for column in updates}
            )
        else:
            merge = insert.on_conflict_do_nothing(index_elements=self.key_columns())
        return stage, merge

    def prepare(self) -> None:
        if self.mode == "upsert" and self.stage is None:
            self.stage, self.merge = self._prepare_stage()

    def write(self, chunk: pd.DataFrame) -> int:
        arrow = self.to_arrow(chunk)
        if arrow.num_rows == 0:
            return 0
        if self.mode != "upsert":
            self._copy(arrow, self.table, [column.name for column in self.table.columns])
            return arrow.num_rows
        if self.stage is None or self.merge is None:
            self.stage, self.merge = self._prepare_stage()
        arrow = arrow.append_column(ROW_NUMBER_KEY, pa.array(np.arange(arrow.num_rows, dtype=np.int64)))
        self._copy(arrow, self.stage, [column.name for column in self.stage.columns])
        self.conn.execute(self.merge)
        # TRUNCATE (not DELETE) so the temp table does not grow with dead rows across chunks.
        self.conn.exec_driver_sql(truncate_sql(self.conn.dialect, self.stage))
        return arrow.num_rows


class ExecuteManyWriter(ChunkWriter):
    """Bound parameters through executemany (PyMySQL batches them into multi-row INSERTs)."""

    def __init__(self, conn: Connection, table: sa.Table, columns: list[TargetColumn], mode: str, keys: list[str]) -> None:
        super().__init__(conn, table, columns, mode, keys)
        self.statement = self._statement()

    def _statement(self) -> sa.Insert:
        dialect_name = self.conn.dialect.name
        if self.mode != "upsert":
            return sa.insert(self.table)
        updates = self.update_columns()
        if dialect_name == "mysql":
            insert = mysql_dialect.insert(self.table)
            # ON DUPLICATE KEY UPDATE needs at least one assignment; with only key columns
            # a key set to itself is the do-nothing form (INSERT IGNORE would hide real errors).
            targets = updates or self.key_columns()[:1]
            return insert.on_duplicate_key_update({column: insert.inserted[column.key] for column in targets})
        if dialect_name in ("sqlite", "postgresql"):
            insert = (sqlite_dialect if dialect_name == "sqlite" else pg_dialect).insert(self.table)
            if updates:
                return insert.on_conflict_do_update(
                    index_elements=self.key_columns(), set_={column: insert.excluded[column.key] for column in updates}
                )
            return insert.on_conflict_do_nothing(index_elements=self.key_columns())
        raise AssertionError(f"upsert is not available on {dialect_name}")  # refused earlier, in open()

    def write(self, chunk: pd.DataFrame) -> int:
        arrow = self.to_arrow(chunk)
        if arrow.num_rows == 0:
            return 0
        # Arrow gives exact Python values: Decimal, date, datetime, None for NULL.
        rows = arrow.to_pylist()
        self.conn.execute(self.statement, rows)
        return arrow.num_rows


def writer_for(conn: Connection, table: sa.Table, columns: list[TargetColumn], mode: str, keys: list[str]) -> ChunkWriter:
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg2":
        return PostgresCopyWriter(conn, table, columns, mode, keys)
    return ExecuteManyWriter(conn, table, columns, mode, keys)
