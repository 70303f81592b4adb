"""Load strategies of the database target: direct writes (with a dead-letter bisect) and staged, set-based merge / SCD2 / hash dedupe."""

from __future__ import annotations

import hashlib
import json
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from etl_studio.core.connections import explain_db_error
from etl_studio.core.errors import ConfigError, DataError
from etl_studio.core.project.models import TargetColumn
from etl_studio.core.targets.arrow_types import chunk_to_arrow
from etl_studio.core.targets.base import PlannedChanges
from etl_studio.core.targets.sql_types import sql_type
from etl_studio.core.targets.sql_writers import ChunkWriter, EncodedChunk, writer_for
from etl_studio.core.types import parse_type

# The valid_to of a current SCD2 version: the customary "open end".
FAR_FUTURE = datetime(9999, 12, 31)
SAMPLE_ROWS = 5
_NULL_MARK = "\x00"  # in the row hash, NULL differs from every text, '' included
_SEPARATOR = "\x1f"


# -- content hash ---------------------------------------------------------------------------

def row_hashes(chunk: pd.DataFrame, columns: list[TargetColumn]) -> list[str]:
    """SHA-256 of each row's mapped values, as text in mapping order; stable across runs and versions."""
    arrow = chunk_to_arrow(chunk, columns)
    if arrow.num_rows == 0:
        return []
    texts = []
    for name in arrow.column_names:
        column = arrow.column(name)
        as_text = pc.cast(column, pa.string()) if not pa.types.is_string(column.type) else column
        texts.append(pc.fill_null(as_text, _NULL_MARK))
    joined = pc.binary_join_element_wise(*texts, _SEPARATOR) if len(texts) > 1 else texts[0]
    return [hashlib.sha256(value.encode("utf-8")).hexdigest() for value in joined.to_pylist()]


# -- what a strategy does with the rows -----------------------------------------------------

class TableLoad(ABC):
    """One run's way of putting rows into the table, inside the session's transaction."""

    def __init__(self, conn: Connection, table: sa.Table, columns: list[TargetColumn]) -> None:
        self.conn = conn
        self.table = table
        self.columns = columns  # the columns written per chunk (mapping + hash column)
        self.rejected: list[tuple[Any, str, dict[str, Any]]] = []  # (row label, database message, values)

    @abstractmethod
    def write(self, chunk: pd.DataFrame) -> int:
        """Take one chunk; return the rows accepted."""

    def plan(self) -> PlannedChanges:
        """What apply() would do to the table, counted before it is done."""
        return PlannedChanges()

    def apply(self) -> dict[str, int]:
        """Set-based statements at the end of the load (staged strategies); counts of what they did."""
        return {}

    def statements(self) -> list[tuple[str, sa.Executable]]:
        """The statements apply() runs, labelled, for the target editor."""
        return []

    def discard(self) -> None:
        """Clean up what the session's rollback does not (temporary tables on MySQL)."""


def _rejectable(exc: BaseException, dialect: Dialect) -> bool:
    """A constraint or value error of the rows, not of the connection or the statement."""
    original = getattr(exc, "orig", None) or exc
    names = {cls.__name__ for cls in type(original).__mro__}
    if names & {"IntegrityError", "DataError"}:
        return True
    # MariaDB reports a failed CHECK constraint (4025) and some value errors as OperationalError.
    code = original.args[0] if getattr(original, "args", None) else None
    return dialect.name == "mysql" and code in (1048, 1062, 1264, 1265, 1292, 1366, 1406, 1452, 3819, 4025)


def _is_db_error(exc: BaseException, dialect: Dialect) -> bool:
    return isinstance(exc, sa.exc.DBAPIError) or (dialect.dbapi is not None and isinstance(exc, dialect.dbapi.Error))


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return None
    if isinstance(value, (datetime, date, pd.Timestamp)):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value if isinstance(value, (int, float, bool, str)) else str(value)


class DirectLoad(TableLoad):
    """append / replace / upsert: each chunk straight into the table. With a dead-letter table, a
    chunk the database refuses is split in halves, each in its own SAVEPOINT, until the refused
    rows are found; they are set aside with the database's message and the others load."""

    def __init__(
        self,
        conn: Connection,
        table: sa.Table,
        columns: list[TargetColumn],
        mode: str,
        keys: list[str],
        *,
        dead_letter: bool = False,
        max_rejected: int | None = None,
    ) -> None:
        super().__init__(conn, table, columns)
        self.mode = mode
        self.keys = keys
        self.writer: ChunkWriter = writer_for(conn, table, columns, mode, keys)
        self.dead_letter = dead_letter
        self.max_rejected = max_rejected
        if dead_letter:
            # Anything the writer creates lazily must exist outside the savepoints: a
            # rolled-back savepoint would take it away under the writer's feet.
            self.writer.prepare()

    def write(self, chunk: pd.DataFrame) -> int:
        if not self.dead_letter:
            return self.writer.write(chunk)
        return self._write_or_split(chunk)

    def encode(self, chunk: pd.DataFrame) -> EncodedChunk | None:
        """The chunk in the wire format ahead of write_encoded(); None: write() it (a dead-letter load
        splits refused chunks as DataFrames, so it never encodes ahead)."""
        return None if self.dead_letter else self.writer.encode(chunk)

    def write_encoded(self, encoded: EncodedChunk) -> int:
        return self.writer.write_encoded(encoded)

    def _write_or_split(self, chunk: pd.DataFrame) -> int:
        if len(chunk) == 0:
            return 0
        savepoint = self.conn.begin_nested()
        try:
            written = self.writer.write(chunk)
        except Exception as exc:
            if not _is_db_error(exc, self.conn.dialect) or not _rejectable(exc, self.conn.dialect):
                raise
            savepoint.rollback()
            if len(chunk) == 1:
                self._reject(chunk, explain_db_error(exc))
                return 0
            middle = len(chunk) // 2
            return self._write_or_split(chunk.iloc[:middle]) + self._write_or_split(chunk.iloc[middle:])
        savepoint.commit()
        return written

    def _reject(self, row: pd.DataFrame, message: str) -> None:
        values = {column.name: _plain(row.iloc[0][column.name]) for column in self.columns if column.name in row.columns}
        self.rejected.append((row.index[0], message, values))
        if self.max_rejected is not None and len(self.rejected) > self.max_rejected:
            raise DataError(
                f"the database refused more than {self.max_rejected} row(s) (last: {message}); "
                "max_rejected_rows stops the run, nothing was loaded"
            )


class StagedLoad(TableLoad):
    """merge / scd2 / append with a content hash: rows go to a temporary table keyed by the
    strategy's keys (so the last row of a key in a run wins), then set-based statements apply
    them to the table at commit."""

    def __init__(self, conn: Connection, table: sa.Table, columns: list[TargetColumn], stage: sa.Table) -> None:
        super().__init__(conn, table, columns)
        self.stage = stage
        self.writer: ChunkWriter | None = None

    @classmethod
    def stage_table(cls, table: sa.Table, columns: list[TargetColumn], keys: list[str], dialect_name: str, name: str | None = None) -> sa.Table:
        """A temporary table with the loaded columns; the keys are its primary key."""
        by_name = {column.name: column for column in table.columns}
        return sa.Table(
            name or "etl_studio_stage_" + uuid.uuid4().hex[:12],
            sa.MetaData(),
            *[
                sa.Column(
                    column.name,
                    sql_type(parse_type(column.type), dialect_name, key=column.name in keys),
                    key=by_name[column.name].key,
                    primary_key=column.name in keys,
                    nullable=column.name not in keys,
                    autoincrement=False,
                )
                for column in columns
            ],
            prefixes=["TEMPORARY"],
            postgresql_on_commit="DROP",
        )

    def create(self, keys: list[str]) -> None:
        self.stage.create(self.conn)
        self.writer = writer_for(self.conn, self.stage, self.columns, "upsert", keys)

    def write(self, chunk: pd.DataFrame) -> int:
        assert self.writer is not None
        return self.writer.write(chunk)

    def discard(self) -> None:
        if self.conn.dialect.name == "mysql":
            try:
                self.conn.exec_driver_sql("DROP TEMPORARY TABLE IF EXISTS " + self.conn.dialect.identifier_preparer.format_table(self.stage))
            except Exception:  # noqa: BLE001 - the connection may be gone with the table
                pass

    def _drop_stage(self) -> None:
        dialect = self.conn.dialect
        if dialect.name == "postgresql":
            return  # ON COMMIT DROP
        # MySQL commits implicitly on DROP TABLE but not on DROP TEMPORARY TABLE.
        prefix = "DROP TEMPORARY TABLE " if dialect.name == "mysql" else "DROP TABLE "
        self.conn.exec_driver_sql(prefix + dialect.identifier_preparer.format_table(self.stage))

    # helpers shared by the strategies
    def t(self, name: str) -> sa.ColumnElement[Any]:
        return self.table.columns[self._key(self.table, name)]

    def s(self, name: str) -> sa.ColumnElement[Any]:
        return self.stage.columns[self._key(self.stage, name)]

    @staticmethod
    def _key(table: sa.Table, name: str) -> str:
        for column in table.columns:
            if column.name == name:
                return column.key
        raise KeyError(name)

    def _match(self, target: Any, keys: list[str]) -> sa.ColumnElement[bool]:
        return sa.and_(*[target.columns[self._key(self.table, k)] == self.s(k) for k in keys])

    @staticmethod
    def _same(left: list[sa.ColumnElement[Any]], right: list[sa.ColumnElement[Any]]) -> sa.ColumnElement[bool]:
        # NULL-safe: IS NOT DISTINCT FROM (PostgreSQL), <=> (MySQL), IS (SQLite).
        return sa.and_(sa.true(), *[a.is_not_distinct_from(b) for a, b in zip(left, right)])

    def _count(self, query: sa.Select[Any]) -> int:
        return int(self.conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one())

    def _sample(self, query: sa.Select[Any]) -> pd.DataFrame:
        result = self.conn.execute(query.limit(SAMPLE_ROWS))
        return pd.DataFrame([tuple(row) for row in result], columns=[str(c) for c in result.keys()])

    def _labelled(self, table: Any, names: list[str]) -> list[sa.ColumnElement[Any]]:
        return [table.columns[self._key(self.table if table is not self.stage else self.stage, n)].label(n) for n in names]

    def stage_rows(self) -> int:
        return self._count(sa.select(*self.stage.columns))


class MergeLoad(StagedLoad):
    """Update the rows whose key exists and differ, insert the new ones, optionally delete the keys missing from the run."""

    def __init__(self, conn: Connection, table: sa.Table, columns: list[TargetColumn], stage: sa.Table, keys: list[str], *,
                 delete_missing: bool, insert_only: bool = False) -> None:
        super().__init__(conn, table, columns, stage)
        self.keys = keys
        self.delete_missing = delete_missing
        self.insert_only = insert_only  # append with a content hash: never update
        self.names = [column.name for column in columns]
        self.others = [name for name in self.names if name not in keys]

    def _changed(self) -> sa.ColumnElement[bool]:
        return sa.not_(self._same([self.t(n) for n in self.others], [self.s(n) for n in self.others]))

    def _update(self) -> sa.Update | None:
        if self.insert_only or not self.others:
            return None
        return (
            sa.update(self.table)
            .values({self.t(n): self.s(n) for n in self.others})
            .where(self._match(self.table, self.keys))
            .where(self._changed())
        )

    def _insert(self) -> sa.Insert:
        existing = self.table.alias("existing")
        rows = sa.select(*[self.s(n) for n in self.names]).where(
            ~sa.exists(sa.select(sa.literal(1)).select_from(existing).where(self._match(existing, self.keys)))
        )
        return sa.insert(self.table).from_select([self.t(n) for n in self.names], rows)

    def _delete(self) -> sa.Delete:
        return sa.delete(self.table).where(
            ~sa.exists(sa.select(sa.literal(1)).select_from(self.stage).where(self._match(self.table, self.keys)))
        )

    def statements(self) -> list[tuple[str, sa.Executable]]:
        found: list[tuple[str, sa.Executable]] = []
        update = self._update()
        if update is not None:
            found.append(("update changed rows", update))
        found.append(("insert new rows", self._insert()))
        if self.delete_missing:
            found.append(("delete rows missing from the run", self._delete()))
        return found

    def plan(self) -> PlannedChanges:
        existing = self.table.alias("existing")
        new = sa.select(*self._labelled(self.stage, self.names)).where(
            ~sa.exists(sa.select(sa.literal(1)).select_from(existing).where(self._match(existing, self.keys)))
        )
        joined = sa.select(*self._labelled(self.stage, self.names)).select_from(self.stage.join(self.table, self._match(self.table, self.keys)))
        changes = PlannedChanges()
        changes.add("insert", self._count(new), self._sample(new))
        if self.insert_only:
            changes.add("unchanged", self._count(joined), self._sample(joined))
        elif self.others:
            changed = joined.where(self._changed())
            unchanged = joined.where(sa.not_(self._changed()))
            changes.add("update", self._count(changed), self._sample(changed))
            changes.add("unchanged", self._count(unchanged), self._sample(unchanged))
        else:
            changes.add("unchanged", self._count(joined), self._sample(joined))
        if self.delete_missing and self._deletes_allowed():
            gone = sa.select(*self._labelled(self.table, self.names)).where(
                ~sa.exists(sa.select(sa.literal(1)).select_from(self.stage).where(self._match(self.table, self.keys)))
            )
            changes.add("delete", self._count(gone), self._sample(gone))
        return changes

    def _deletes_allowed(self) -> bool:
        # A run that read nothing is not a snapshot of an empty source worth trusting: it
        # would empty the table. An analyst empties a table with mode 'replace'.
        return self.stage_rows() > 0

    def apply(self) -> dict[str, int]:
        done: dict[str, int] = {}
        update = self._update()
        if update is not None:
            done["update"] = self.conn.execute(update).rowcount
        done["insert"] = self.conn.execute(self._insert()).rowcount
        if self.delete_missing:
            if self._deletes_allowed():
                done["delete"] = self.conn.execute(self._delete()).rowcount
            else:
                done["delete"] = 0
        self._drop_stage()
        return done


@dataclass(frozen=True)
class Scd2Columns:
    """The history columns of an SCD type 2 table."""

    valid_from: str
    valid_to: str
    is_current: str
    version: str | None


class Scd2Load(StagedLoad):
    """SCD type 2, set-based: close the current version of changed keys, optionally close keys
    missing from the run, then insert a new current version for every staged key without one."""

    def __init__(self, conn: Connection, table: sa.Table, columns: list[TargetColumn], stage: sa.Table, keys: list[str], *,
                 tracked: list[str], history: Scd2Columns, effective_from: str | None, load_time: datetime, close_missing: bool) -> None:
        super().__init__(conn, table, columns, stage)
        self.keys = keys
        self.tracked = tracked
        self.history = history
        self.effective_from = effective_from
        self.load_time = load_time
        self.close_missing = close_missing
        self.names = [column.name for column in columns]

    def _start(self) -> sa.ColumnElement[Any]:
        """When a new version starts: the effective-from column, else the run's time."""
        if self.effective_from:
            return sa.type_coerce(self.s(self.effective_from), sa.DateTime())
        return sa.bindparam("load_time", self.load_time, type_=sa.DateTime())

    def _is_current(self, table: Any) -> sa.ColumnElement[bool]:
        return table.columns[self._key(self.table, self.history.is_current)] == sa.true()

    def _changed(self) -> sa.ColumnElement[bool]:
        return sa.not_(self._same([self.t(n) for n in self.tracked], [self.s(n) for n in self.tracked]))

    def _close_changed(self) -> sa.Update:
        return (
            sa.update(self.table)
            .values({self.t(self.history.valid_to): self._start(), self.t(self.history.is_current): sa.false()})
            .where(self._match(self.table, self.keys))
            .where(self._is_current(self.table))
            .where(self._changed())
        )

    def _close_missing(self) -> sa.Update:
        return (
            sa.update(self.table)
            .values(
                {
                    self.t(self.history.valid_to): sa.bindparam("close_time", self.load_time, type_=sa.DateTime()),
                    self.t(self.history.is_current): sa.false(),
                }
            )
            .where(self._is_current(self.table))
            .where(~sa.exists(sa.select(sa.literal(1)).select_from(self.stage).where(self._match(self.table, self.keys))))
        )

    def _without_current(self) -> sa.ColumnElement[bool]:
        current = self.table.alias("current_version")
        return ~sa.exists(
            sa.select(sa.literal(1)).select_from(current).where(self._match(current, self.keys)).where(self._is_current(current))
        )

    def _insert(self) -> sa.Insert:
        values: list[sa.ColumnElement[Any]] = [self.s(n) for n in self.names]
        values += [self._start(), sa.literal(FAR_FUTURE, sa.DateTime()), sa.true()]
        targets = [self.t(n) for n in self.names] + [self.t(self.history.valid_from), self.t(self.history.valid_to), self.t(self.history.is_current)]
        if self.history.version:
            older = self.table.alias("older_version")
            version = older.columns[self._key(self.table, self.history.version)]
            values.append(
                sa.select(sa.func.coalesce(sa.func.max(version), 0) + 1).where(self._match(older, self.keys)).scalar_subquery()
            )
            targets.append(self.t(self.history.version))
        return sa.insert(self.table).from_select(targets, sa.select(*values).where(self._without_current()))

    def statements(self) -> list[tuple[str, sa.Executable]]:
        found: list[tuple[str, sa.Executable]] = [("close the current version of changed keys", self._close_changed())]
        if self.close_missing:
            found.append(("close keys missing from the run", self._close_missing()))
        found.append(("insert a new current version for new and changed keys", self._insert()))
        return found

    def plan(self) -> PlannedChanges:
        current = sa.and_(self._match(self.table, self.keys), self._is_current(self.table))
        joined = sa.select(*self._labelled(self.stage, self.names)).select_from(self.stage.join(self.table, current))
        changed = joined.where(self._changed())
        unchanged = joined.where(sa.not_(self._changed()))
        new = sa.select(*self._labelled(self.stage, self.names)).where(self._without_current())
        expired = (
            sa.select(*self._labelled(self.table, [c.name for c in self.table.columns]))
            .select_from(self.table.join(self.stage, self._match(self.table, self.keys)))
            .where(self._is_current(self.table))
            .where(self._changed())
        )
        changes = PlannedChanges()
        changed_count = self._count(changed)
        changes.add("insert", self._count(new) + changed_count, pd.concat([self._sample(new), self._sample(changed)], ignore_index=True).head(SAMPLE_ROWS))
        changes.add("expire", changed_count, self._sample(expired))
        changes.add("unchanged", self._count(unchanged), self._sample(unchanged))
        if self.close_missing and self.stage_rows() > 0:
            gone = sa.select(*self._labelled(self.table, [c.name for c in self.table.columns])).where(self._is_current(self.table)).where(
                ~sa.exists(sa.select(sa.literal(1)).select_from(self.stage).where(self._match(self.table, self.keys)))
            )
            changes.add("expire", self._count(gone), self._sample(gone))
        return changes

    def apply(self) -> dict[str, int]:
        done = {"expire": self.conn.execute(self._close_changed()).rowcount}
        if self.close_missing and self.stage_rows() > 0:
            done["expire"] += self.conn.execute(self._close_missing()).rowcount
        done["insert"] = self.conn.execute(self._insert()).rowcount
        self._drop_stage()
        return done


# -- PostgreSQL declarative partitions ------------------------------------------------------

def period_bounds(value: date | datetime, interval: str) -> tuple[date, date]:
    """The [start, end) range partition that holds ``value``: a day, a month or a year."""
    day = value.date() if isinstance(value, datetime) else value
    if interval == "day":
        return day, day + timedelta(days=1)
    if interval == "year":
        return date(day.year, 1, 1), date(day.year + 1, 1, 1)
    start = date(day.year, day.month, 1)
    end = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return start, end


def partition_name(table: str, start: date, interval: str) -> str:
    suffix = {"day": "%Y_%m_%d", "month": "%Y_%m", "year": "%Y"}[interval]
    return f"{table}_p{start.strftime(suffix)}"


class PartitionKeeper:
    """Creates the missing range partitions of a partitioned PostgreSQL table before rows need them."""

    def __init__(self, conn: Connection, table: sa.Table, column: str, interval: str) -> None:
        self.conn = conn
        self.table = table
        self.column = column
        self.interval = interval
        self.seen: set[date] = set()
        self.created: list[str] = []

    def ensure(self, chunk: pd.DataFrame) -> None:
        values = pd.to_datetime(chunk[self.column], errors="coerce").dropna()
        if len(values) and values.dt.tz is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        starts = {period_bounds(moment.to_pydatetime(), self.interval)[0] for moment in values.unique()}
        for start in sorted(starts - self.seen):
            self._create(start)
            self.seen.add(start)

    def _create(self, start: date) -> None:
        _, end = period_bounds(start, self.interval)
        preparer = self.conn.dialect.identifier_preparer
        name = partition_name(self.table.name, start, self.interval)
        partition = sa.Table(name, sa.MetaData(), schema=self.table.schema)
        # Partition bounds cannot be bound parameters server-side; psycopg2 binds on the
        # client, quoting the values as literals. The names are quoted by the dialect.
        statement = sa.text(
            "CREATE TABLE IF NOT EXISTS " + preparer.format_table(partition) + " PARTITION OF "
            + preparer.format_table(self.table) + " FOR VALUES FROM (:start) TO (:end)"
        ).bindparams(sa.bindparam("start", start, type_=sa.Date()), sa.bindparam("end", end, type_=sa.Date()))
        savepoint = self.conn.begin_nested()
        try:
            self.conn.execute(statement)
        except sa.exc.DBAPIError as exc:
            savepoint.rollback()
            if "overlap" in str(exc.orig):
                return  # an existing partition (named otherwise, or wider) already takes these rows
            raise ConfigError(f"cannot create partition {name} of {self.table.name}: {explain_db_error(exc)}") from None
        savepoint.commit()
        self.created.append(name)


def is_partitioned(conn: Connection, table: sa.Table) -> bool:
    found = conn.execute(
        sa.text("select 1 from pg_partitioned_table where partrelid = to_regclass(:name)"),
        {"name": conn.dialect.identifier_preparer.format_table(table)},
    ).first()
    return found is not None


def rejected_rows_frame(rejected: list[tuple[Any, str, dict[str, Any]]]) -> pd.DataFrame:
    return pd.DataFrame(
        {"row": [r[0] for r in rejected], "error": [r[1] for r in rejected], "values": [json.dumps(r[2], ensure_ascii=False, default=str) for r in rejected]}
    )
