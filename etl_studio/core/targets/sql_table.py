"""The database table target: one transaction per run that loads the rows and writes the control row together."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from pydantic import ConfigDict, Field, field_validator, model_validator
from sqlalchemy.engine import Connection, Dialect, Engine

from etl_studio.core.cdc.apply import CHANGE_COLUMNS, OP_COLUMN, AppliedChanges, apply_changes, change_statements
from etl_studio.core.connections import describe_url, explain_db_error, sqlite_file_not_made_yet
from etl_studio.core.errors import ConfigError, ConnectionFailedError, DataError, EtlError, TransientError
from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import targets
from etl_studio.core.project.models import TargetColumn
from etl_studio.core.targets.base import CONTROL_TABLE, ControlRecord, LoadSession, PlannedChanges, Target
from etl_studio.core.targets.sql_strategies import (
    SAMPLE_ROWS,
    DirectLoad,
    MergeLoad,
    PartitionKeeper,
    Scd2Columns,
    Scd2Load,
    StagedLoad,
    TableLoad,
    is_partitioned,
    rejected_rows_frame,
    row_hashes,
)
from etl_studio.core.targets.sql_types import describe_sql_type, sql_type, type_fits
from etl_studio.core.targets.sql_writers import EncodedChunk, copy_from_stdin_sql, truncate_sql
from etl_studio.core.types import parse_type

UPSERT_DIALECTS = ("postgresql", "mysql", "sqlite")
_INSPECTION_REUSE_SECONDS = 5.0  # schema_differences() then open(), as a run does; never a stale look much later
EXECUTIONS_TABLE = "etl_studio_executions"
# Lock waits and deadlocks end a transaction but succeed when tried again.
_TRANSIENT_MESSAGE = re.compile(r"deadlock|lock wait timeout|database is locked|could not serialize", re.IGNORECASE)


class SqlTableConfig(PluginConfig):
    """Where and how rows are loaded into a database table."""

    # "schema" would shadow a BaseModel attribute, so the field is schema_name, read and
    # written as "schema" in project files.
    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    connection: str = Field(min_length=1, description="Name of the project connection to load into.")
    table: str = Field(min_length=1, description="Table name, spelled exactly as in the database (case and spaces count).")
    schema_name: str | None = Field(
        None,
        alias="schema",
        description="Schema (PostgreSQL) or database (MySQL/MariaDB) holding the table; empty for the connection's default.",
    )
    mode: Literal["append", "replace", "upsert", "merge", "scd2", "cdc"] = Field(
        "append",
        description=(
            "append: add the rows; replace: remove all rows and load the new ones, in one transaction; "
            "upsert: update rows whose key exists and insert the others; "
            "merge: load into a staging table, then update the rows that changed, insert the new ones "
            "(and optionally delete the ones missing); "
            "scd2: keep history (slowly changing dimension type 2): a changed row closes its current "
            "version and gets a new one; "
            "cdc: apply the inserts, updates and deletes of a PostgreSQL change data capture source (pg_cdc) "
            "in commit order: insert or update by key, delete by key, empty the table on a TRUNCATE."
        ),
    )
    keys: list[str] = Field(
        default_factory=list,
        description=(
            "Key columns that identify a row: required for upsert, merge and cdc (the primary key when the table is "
            "created; for cdc the source table's primary key, which deletes carry); for scd2 the business key "
            "(with the version, the primary key)."
        ),
    )
    create_if_missing: bool = Field(True, description="Create the table from the mapping's columns when it does not exist.")
    delete_missing: bool = Field(
        False,
        description=(
            "merge: delete the table's rows whose key is not in this run's rows. Only for a source that "
            "gives a full snapshot every run (not incremental); a run that reads no rows deletes nothing."
        ),
    )
    tracked_columns: list[str] = Field(
        default_factory=list,
        description="scd2: columns whose change makes a new version; empty: every mapped column except the keys and effective_from.",
    )
    effective_from: str | None = Field(
        None,
        description="scd2: mapped column whose value starts a new version (e.g. updated_at); empty: the run's start time.",
    )
    close_missing: bool = Field(
        False,
        description="scd2: close the current version of keys missing from this run's rows (full snapshots only).",
    )
    valid_from_column: str = Field("valid_from", min_length=1, description="scd2: column holding when a version starts.")
    valid_to_column: str = Field(
        "valid_to", min_length=1, description="scd2: column holding when a version ends; 9999-12-31 for the current one."
    )
    current_column: str = Field("is_current", min_length=1, description="scd2: true for the current version of a key, false for history.")
    version_column: str | None = Field(
        "version", description="scd2: column numbering a key's versions 1, 2, 3 ...; empty: no version column."
    )
    hash_column: str | None = Field(
        None,
        description=(
            "Column that stores a SHA-256 hash of each row's mapped values (added to the table). In append mode "
            "a row whose hash is already in the table is not loaded again (content-hash dedupe)."
        ),
    )
    partition_column: str | None = Field(
        None,
        description=(
            "PostgreSQL only: date/time column of a range-partitioned table; missing partitions are created "
            "in the load's transaction (and the table, if created, is partitioned by it)."
        ),
    )
    partition_interval: Literal["day", "month", "year"] = Field("month", description="Size of each partition created for partition_column.")
    dead_letter_table: str | None = Field(
        None,
        description=(
            "append/upsert/replace: rows the database refuses (constraint violations, values too long) go to "
            "this table with the database's message, and the other rows load. Empty: a refused row fails the run."
        ),
    )
    max_rejected_rows: int | None = Field(
        None, ge=0, description="With a dead-letter table: fail the run when more rows than this are refused; empty: no limit."
    )

    @field_validator("schema_name", "effective_from", "hash_column", "partition_column", "dead_letter_table", "version_column")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _keys_fit_mode(self) -> SqlTableConfig:
        if self.mode in ("upsert", "merge", "scd2", "cdc") and not self.keys:
            raise ValueError(f"mode '{self.mode}' needs at least one key column in 'keys'")
        if self.delete_missing and self.mode != "merge":
            raise ValueError("'delete_missing' is a setting of mode 'merge'")
        if self.mode != "scd2" and (self.close_missing or self.tracked_columns or self.effective_from):
            raise ValueError("'tracked_columns', 'effective_from' and 'close_missing' are settings of mode 'scd2'")
        if self.dead_letter_table and self.mode not in ("append", "upsert", "replace"):
            raise ValueError(f"a dead-letter table works with modes append, upsert and replace, not '{self.mode}'")
        if self.mode == "cdc" and self.hash_column:
            raise ValueError("'hash_column' does not go with mode 'cdc': changes are applied by key, never deduplicated by content")
        if self.max_rejected_rows is not None and not self.dead_letter_table:
            raise ValueError("'max_rejected_rows' needs a 'dead_letter_table'")
        if self.mode == "scd2":
            history = [self.valid_from_column, self.valid_to_column, self.current_column] + ([self.version_column] if self.version_column else [])
            if len(set(history)) != len(history):
                raise ValueError("the scd2 history columns (valid_from, valid_to, current, version) need four different names")
        twice = sorted({key for key in self.keys if self.keys.count(key) > 1})
        if twice:
            raise ValueError(f"key column {', '.join(twice)} is listed more than once in 'keys'")
        return self


def control_table(metadata: sa.MetaData, schema: str | None) -> sa.Table:
    """The control table: one row per committed run, written in the load's own transaction."""
    return sa.Table(
        CONTROL_TABLE,
        metadata,
        sa.Column("run_id", sa.String(255), primary_key=True, autoincrement=False),
        sa.Column("pipeline", sa.String(255), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),  # UTC
        sa.Column("finished_at", sa.DateTime, nullable=False),  # UTC
        sa.Column("rows_loaded", sa.BigInteger, nullable=False),
        sa.Column("watermark", sa.Text, nullable=True),
        schema=schema,
    )


def executions_table(metadata: sa.MetaData, schema: str | None) -> sa.Table:
    """One row per committed execution (pipeline + window): its primary key refuses a second load of a window."""
    return sa.Table(
        EXECUTIONS_TABLE,
        metadata,
        sa.Column("pipeline", sa.String(255), primary_key=True, autoincrement=False),
        sa.Column("execution_id", sa.String(255), primary_key=True, autoincrement=False),
        sa.Column("run_id", sa.String(255), nullable=False),
        sa.Column("committed_at", sa.DateTime, nullable=False),  # UTC
        schema=schema,
    )


def dead_letter_table(name: str, metadata: sa.MetaData, schema: str | None) -> sa.Table:
    """Rows the database refused, with its message; written in the load's transaction."""
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(255), nullable=False),
        sa.Column("pipeline", sa.String(255), nullable=False),
        sa.Column("source_row", sa.BigInteger, nullable=True),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("row_values", sa.Text, nullable=False),  # JSON object, column -> value
        sa.Column("rejected_at", sa.DateTime, nullable=False),  # UTC
        schema=schema,
    )


def _utc_naive(moment: datetime) -> datetime:
    # TIMESTAMP WITHOUT TIME ZONE / DATETIME drop an offset silently on some servers, so
    # every moment is stored as UTC without one.
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def _dbapi_class_names(error: BaseException) -> set[str]:
    # PEP 249 names every driver shares (IntegrityError, DataError ...), so errors are
    # classified without importing psycopg2, PyMySQL and sqlite3 here.
    return {cls.__name__ for cls in type(error).__mro__}


def translate_error(exc: BaseException, *, what: str, dialect: Dialect | None = None, dbapi_connection: Any = None) -> EtlError:
    """A driver or SQLAlchemy error as the engine's error type, with the database's first line."""
    if isinstance(exc, EtlError):
        return exc
    original = getattr(exc, "orig", None) or exc
    message = f"{what}: {explain_db_error(exc)}"
    disconnected = isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated
    if not disconnected and dialect is not None and dialect.dbapi is not None and isinstance(original, dialect.dbapi.Error):
        try:
            disconnected = bool(dialect.is_disconnect(original, dbapi_connection, None))
        except Exception:  # noqa: BLE001 - a failed check only means "not known to be a disconnect"
            disconnected = False
    if disconnected:
        return TransientError(f"{what}: lost the connection to the database ({explain_db_error(exc)})")
    names = _dbapi_class_names(original)
    if "OperationalError" in names and _TRANSIENT_MESSAGE.search(str(original)):
        return TransientError(message)
    return DataError(message)


@targets.register("sql_table")
class SqlTableTarget(Target):
    """Loads into a PostgreSQL, MariaDB/MySQL or SQLite table; all or nothing, with a control row."""

    config_model = SqlTableConfig
    title = "Database table"
    description = "Load into a table of a PostgreSQL, MariaDB/MySQL or SQLite database, all or nothing per run."
    config: SqlTableConfig

    # -- helpers -----------------------------------------------------------------------

    @property
    def label(self) -> str:
        """The table as named in messages (``sales.orders``)."""
        return f"{self.config.schema_name}.{self.config.table}" if self.config.schema_name else self.config.table

    def _engine(self) -> Engine:
        return self.context.connections.engine(self.config.connection)

    def _connect(self, engine: Engine) -> Connection:
        try:
            return engine.connect()
        except sa.exc.DBAPIError as exc:
            raise ConnectionFailedError(
                f"connection '{self.config.connection}' ({describe_url(engine.url)}): {explain_db_error(exc)}"
            ) from exc

    def _key_names(self) -> list[str]:
        return list(self.config.keys)

    def load_columns(self, columns: list[TargetColumn]) -> list[TargetColumn]:
        """The columns written per chunk: the mapping's, plus the content hash when configured."""
        if not self.config.hash_column:
            return list(columns)
        return [*columns, TargetColumn(name=self.config.hash_column, type="string", nullable=False)]

    def history_columns(self) -> list[TargetColumn]:
        """The SCD2 columns the strategy fills itself (empty for other modes)."""
        if self.config.mode != "scd2":
            return []
        found = [
            TargetColumn(name=self.config.valid_from_column, type="datetime", nullable=False),
            TargetColumn(name=self.config.valid_to_column, type="datetime", nullable=False),
            TargetColumn(name=self.config.current_column, type="boolean", nullable=False),
        ]
        if self.config.version_column:
            found.append(TargetColumn(name=self.config.version_column, type="integer", nullable=False))
        return found

    def table_columns(self, columns: list[TargetColumn]) -> list[TargetColumn]:
        """Every column of the table as the strategy needs it: mapping, hash, SCD2 history."""
        return self.load_columns(columns) + self.history_columns()

    def primary_key(self) -> list[str]:
        if self.config.mode == "scd2":
            return [*self.config.keys, self.config.version_column or self.config.valid_from_column]
        return list(self.config.keys)

    def tracked_columns(self, columns: list[TargetColumn]) -> list[str]:
        if self.config.tracked_columns:
            return list(self.config.tracked_columns)
        skip = {*self.config.keys, self.config.effective_from}
        return [c.name for c in columns if c.name not in skip]

    def _check_mapping(self, columns: list[TargetColumn]) -> None:
        if not columns:
            raise ConfigError(f"target {self.label}: the mapping has no columns to load")
        names = [column.name for column in columns]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ConfigError(f"target {self.label}: column {', '.join(twice)} appears more than once in the mapping")
        for what, wanted in (
            ("key column", self.config.keys),
            ("tracked column", self.config.tracked_columns),
            ("effective_from column", [self.config.effective_from] if self.config.effective_from else []),
            ("partition column", [self.config.partition_column] if self.config.partition_column else []),
        ):
            unknown = [key for key in wanted if key not in names]
            if unknown:
                raise ConfigError(
                    f"target {self.label}: {what} {', '.join(unknown)} is not a column of the mapping "
                    f"(columns: {', '.join(names)})"
                )
        changes = [name for name in names if name in CHANGE_COLUMNS]
        if changes:
            raise ConfigError(
                f"target {self.label}: column {', '.join(changes)} describes a captured change and is never a column of the "
                "table; remove it from the mapping"
            )
        added = [c.name for c in self.table_columns([]) if c.name in names]
        if added:
            raise ConfigError(
                f"target {self.label}: column {', '.join(added)} is filled by the load strategy; remove it from the mapping "
                "or give the strategy's column another name"
            )
        if self.config.partition_column and self.primary_key() and self.config.partition_column not in self.primary_key():
            raise ConfigError(
                f"target {self.label}: PostgreSQL needs the partition column {self.config.partition_column} in the primary key "
                f"({', '.join(self.primary_key())}); add it to 'keys'"
            )

    def build_table(self, columns: list[TargetColumn], dialect_name: str, metadata: sa.MetaData | None = None) -> sa.Table:
        """The table as the mapping describes it: the DDL when it is created, the columns for loading.

        ``columns`` are the table's columns (``table_columns()``). Column keys are neutral (c0,
        c1 ...) so names with spaces, quotes or '%' never reach a bound parameter's name; the
        database sees the real, quoted names.
        """
        keys = set(self.primary_key())
        indexed = keys | ({self.config.hash_column} if self.config.hash_column else set())
        sa_columns = [
            sa.Column(
                column.name,
                sql_type(parse_type(column.type), dialect_name, key=column.name in indexed),
                key=f"c{index}",
                primary_key=column.name in keys,
                nullable=column.nullable and column.name not in keys,
                autoincrement=False,  # a key comes from the data, never from a sequence
            )
            for index, column in enumerate(columns)
        ]
        options: dict[str, Any] = {}
        if self.config.partition_column and dialect_name == "postgresql":
            from sqlalchemy.dialects import postgresql

            options["postgresql_partition_by"] = "RANGE (" + postgresql.dialect().identifier_preparer.quote(self.config.partition_column) + ")"
        return sa.Table(self.config.table, metadata or sa.MetaData(), *sa_columns, schema=self.config.schema_name, **options)

    def capability_problems(self, dialect: Dialect) -> list[str]:
        """What this database cannot do of the configured strategy; each line stops a run before it starts."""
        found = []
        if self.config.mode == "upsert" and dialect.name not in UPSERT_DIALECTS:
            found.append(f"upsert is not available on {dialect.name}; use append or replace")
        if self.config.mode == "cdc" and dialect.name not in UPSERT_DIALECTS:
            found.append(f"mode cdc applies changes with an upsert, which is not available on {dialect.name}")
        if self.config.partition_column and dialect.name != "postgresql":
            found.append(
                f"partition-aware loading needs PostgreSQL declarative partitions; connection '{self.config.connection}' "
                f"is {dialect.name}: clear 'partition_column'"
            )
        if self.config.mode in ("merge", "scd2") and dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 33):
            found.append(f"mode {self.config.mode} needs SQLite 3.33 or newer (UPDATE ... FROM); this is {sqlite3.sqlite_version}")
        return found

    def _compare(self, inspector: sa.Inspector, dialect: Dialect, columns: list[TargetColumn], *, exists: bool | None = None) -> list[tuple[str, bool]]:
        """Differences between the existing table and the table columns, each flagged True if a load would fail."""
        table, schema = self.config.table, self.config.schema_name
        if not (inspector.has_table(table, schema=schema) if exists is None else exists):
            return []
        # PostgreSQL compares identifiers exactly; MySQL/MariaDB and SQLite ignore case.
        fold = (lambda name: name) if dialect.name == "postgresql" else str.casefold
        existing = {fold(info["name"]): info for info in inspector.get_columns(table, schema=schema)}
        mapped = {fold(column.name) for column in columns}
        keys = {fold(key) for key in self.primary_key()}
        found: list[tuple[str, bool]] = []
        for column in columns:
            info = existing.get(fold(column.name))
            if info is None:
                found.append((f"column {column.name}: missing in table {self.label}", True))
                continue
            wanted = parse_type(column.type)
            if not type_fits(wanted, info["type"]):
                found.append(
                    (f"column {column.name}: table has {describe_sql_type(info['type'], dialect)}, mapping says {wanted}", False)
                )
            # Key columns are NOT NULL by nature (a primary key makes them so).
            mapping_nullable = column.nullable and fold(column.name) not in keys
            if info.get("nullable", True) != mapping_nullable:
                if mapping_nullable:
                    found.append((f"column {column.name}: table says NOT NULL, mapping allows NULL", False))
                else:
                    found.append((f"column {column.name}: table allows NULL, mapping says not null", False))
        for folded, info in existing.items():
            if folded in mapped:
                continue
            fills_itself = (
                info.get("nullable", True)
                or info.get("default") is not None
                or info.get("autoincrement") is True
                or info.get("computed") is not None
                or info.get("identity") is not None
            )
            if not fills_itself:
                found.append(
                    (f"column {info['name']}: NOT NULL without a default in table {self.label}, but the mapping has no such column", True)
                )
        if self.config.mode in ("upsert", "cdc"):
            unique_sets = [{fold(name) for name in inspector.get_pk_constraint(table, schema=schema).get("constrained_columns") or []}]
            unique_sets += [{fold(name) for name in uc["column_names"]} for uc in inspector.get_unique_constraints(table, schema=schema)]
            unique_sets += [
                {fold(name) for name in index["column_names"] if name}
                for index in inspector.get_indexes(table, schema=schema)
                if index.get("unique")
            ]
            if keys not in unique_sets:
                found.append(
                    (
                        f"{self.config.mode} keys ({', '.join(self.config.keys)}): table {self.label} has no primary key or unique "
                        "constraint on exactly these columns",
                        True,
                    )
                )
        if dialect.name == "mysql":
            engine_name = str(inspector.get_table_options(table, schema=schema).get("mysql_engine", "InnoDB"))
            if engine_name.lower() != "innodb":
                found.append(
                    (f"table {self.label} uses the {engine_name} engine, which cannot roll back: a failed run would leave partial rows", False)
                )
        return found

    def _partition_problems(self, conn: Connection) -> list[str]:
        if not self.config.partition_column or conn.dialect.name != "postgresql":
            return []
        if not sa.inspect(conn).has_table(self.config.table, schema=self.config.schema_name):
            return []
        table = sa.Table(self.config.table, sa.MetaData(), schema=self.config.schema_name)
        if is_partitioned(conn, table):
            return []
        return [f"table {self.label} is not partitioned (PARTITION BY RANGE); clear 'partition_column' or recreate the table partitioned"]

    # -- Target contract ---------------------------------------------------------------

    def schema_differences(self, columns: list[TargetColumn]) -> list[str]:
        engine = self._engine()
        problems = self.capability_problems(engine.dialect)
        try:
            self._check_mapping(columns)
        except ConfigError as exc:
            problems.append(str(exc))
            return problems
        table_columns = self.table_columns(columns)
        if sqlite_file_not_made_yet(engine.url):
            return problems  # no database file yet, so no table to differ from (and none made by looking)
        with self._connect(engine) as conn:
            try:
                inspector = sa.inspect(conn)
                exists = inspector.has_table(self.config.table, schema=self.config.schema_name)
                compared = self._compare(inspector, conn.dialect, table_columns, exists=exists)
                partitioning = self._partition_problems(conn) if exists else []
                # open() follows at once in a run: it takes these instead of inspecting the table again.
                self._inspected = (_columns_key(table_columns), compared if exists else None, partitioning, time.monotonic())
                problems += [line for line, _blocking in compared]
                problems += partitioning
            except sa.exc.DBAPIError as exc:
                raise translate_error(exc, what=f"reading table {self.label}", dialect=conn.dialect) from exc
        return problems

    def _blocking_problems(self, inspector: sa.Inspector, conn: Connection, table_columns: list[TargetColumn]) -> list[str]:
        """What stops a load into the existing table: from schema_differences() just before, if it
        looked at these columns (once), else inspected now."""
        inspected, self._inspected = getattr(self, "_inspected", None), None
        if (inspected is not None and inspected[0] == _columns_key(table_columns) and inspected[1] is not None
                and time.monotonic() - inspected[3] < _INSPECTION_REUSE_SECONDS):
            compared, partitioning = inspected[1], inspected[2]
        else:
            compared = self._compare(inspector, conn.dialect, table_columns, exists=True)
            partitioning = self._partition_problems(conn)
        return [line for line, stops in compared if stops] + partitioning

    def _strategy(self, conn: Connection, table: sa.Table, columns: list[TargetColumn], mapped: list[TargetColumn], load_time: datetime) -> TableLoad:
        """The strategy object for the configured mode, on an open transaction."""
        config = self.config
        dialect_name = conn.dialect.name
        load_columns = self.load_columns(mapped)
        if config.mode == "scd2":
            stage = StagedLoad.stage_table(table, load_columns, list(config.keys), dialect_name)
            staged: StagedLoad = Scd2Load(
                conn, table, load_columns, stage, list(config.keys),
                tracked=self.tracked_columns(mapped),
                history=Scd2Columns(config.valid_from_column, config.valid_to_column, config.current_column, config.version_column),
                effective_from=config.effective_from, load_time=load_time, close_missing=config.close_missing,
            )
            staged.create(list(config.keys))
            return staged
        if config.mode == "cdc":
            return ChangeLoad(conn, table, load_columns, list(config.keys))
        if config.mode == "merge" or (config.mode == "append" and config.hash_column):
            keys = list(config.keys) if config.mode == "merge" else [config.hash_column or ""]
            stage = StagedLoad.stage_table(table, load_columns, keys, dialect_name)
            staged = MergeLoad(conn, table, load_columns, stage, keys, delete_missing=config.delete_missing,
                               insert_only=config.mode == "append")
            staged.create(keys)
            return staged
        return DirectLoad(conn, table, load_columns, config.mode, self._key_names(),
                          dead_letter=bool(config.dead_letter_table), max_rejected=config.max_rejected_rows)

    def describe_load(self, columns: list[TargetColumn]) -> str:
        engine = self._engine()
        dialect = engine.dialect
        table_columns = self.table_columns(columns)
        table = self.build_table(table_columns, dialect.name)
        lines: list[str] = [f"-- {line}" for line in self.capability_problems(dialect)]
        exists: bool | None = False
        if not sqlite_file_not_made_yet(engine.url):  # describing never creates a database file
            try:
                with self._connect(engine) as conn:
                    exists = sa.inspect(conn).has_table(self.config.table, schema=self.config.schema_name)
            except (EtlError, sa.exc.DBAPIError):
                exists = None  # the editor still shows what would run
        if not exists and self.config.create_if_missing:
            ddl = str(sa.schema.CreateTable(table).compile(dialect=dialect)).strip()
            lines.append(("-- if the table does not exist yet:\n" if exists is None else "") + ddl + ";")
        elif not exists:
            lines.append(f"-- table {self.label} does not exist and create_if_missing is off: the run will stop")
        preparer = dialect.identifier_preparer
        name = preparer.format_table(table)
        keys = ", ".join(preparer.quote(key) for key in self.config.keys)
        if self.config.partition_column:
            lines.append(
                f"-- for each {self.config.partition_interval} in the rows without a partition yet:\n"
                f"CREATE TABLE IF NOT EXISTS {preparer.quote(self.config.table + '_p...')} PARTITION OF {name} FOR VALUES FROM (...) TO (...);"
            )
        load_columns = self.load_columns(columns)
        if self.config.mode == "cdc":
            lines.append(
                "-- each chunk of captured changes is applied as it comes, in commit order, inside the load's transaction; "
                "within a chunk only the last change of a key counts"
            )
            for label, statement in change_statements(dialect.name, table, [c.name for c in load_columns], list(self.config.keys)):
                lines.append(f"-- {label}:")
                # Placeholders: the values come from each change (a literal rendering would show NULL).
                lines.append(str(statement.compile(dialect=dialect)).strip() + ";")
            lines.append(
                "-- " + ", ".join(CHANGE_COLUMNS) + " say what each row is and are never written; an update that left a "
                "TOASTed value out leaves that column as it is"
            )
        elif self.config.mode in ("merge", "scd2") or (self.config.mode == "append" and self.config.hash_column):
            stage_keys = list(self.config.keys) if self.config.mode != "append" else [self.config.hash_column or ""]
            stage = StagedLoad.stage_table(table, load_columns, stage_keys, dialect.name, name="etl_studio_stage")
            lines.append("-- every chunk goes to a temporary staging table (the last row of a key wins):")
            lines.append(str(sa.schema.CreateTable(stage).compile(dialect=dialect)).strip() + ";")
            if self.config.hash_column:
                lines.append(f"-- {preparer.quote(self.config.hash_column)} = SHA-256 of each row's mapped values, computed while loading")
            strategy = self._describe_strategy(table, load_columns, columns, stage)
            for label, statement in strategy.statements():
                lines.append(f"-- at commit, {label}:")
                lines.append(_compiled(statement, dialect) + ";")
        elif dialect.name == "postgresql":
            copy = copy_from_stdin_sql(dialect, table, [column.name for column in load_columns])
            if self.config.mode == "append":
                lines.append(copy)
            elif self.config.mode == "replace":
                lines.append(truncate_sql(dialect, table) + "; then " + copy + " (one transaction)")
            else:
                lines.append(
                    "COPY ... FROM STDIN (FORMAT csv) into a temporary table, then per chunk "
                    f"INSERT INTO {name} SELECT DISTINCT ON ({keys}) ... ON CONFLICT ({keys}) DO UPDATE SET ..."
                )
        else:
            verb = {
                "append": f"INSERT INTO {name} ... VALUES (...), batched",
                "replace": f"DELETE FROM {name}; then INSERT INTO {name} ... VALUES (...), batched, in one transaction",
                "upsert": (
                    f"INSERT INTO {name} ... ON DUPLICATE KEY UPDATE ..., batched"
                    if dialect.name == "mysql"
                    else f"INSERT INTO {name} ... ON CONFLICT ({keys}) DO UPDATE SET ..., batched"
                ),
            }[self.config.mode]
            lines.append(verb)
        if self.config.dead_letter_table:
            lines.append(
                "-- each chunk in a SAVEPOINT; a refused chunk is split in halves until the refused rows are found, which go to "
                + preparer.quote(self.config.dead_letter_table) + " with the database's message"
            )
        lines.append(f"INSERT INTO {preparer.quote(CONTROL_TABLE)} (run_id, ...) VALUES (...) and COMMIT, in the same transaction")
        if self.config.mode == "cdc":
            lines.append(
                "-- the control row's watermark is the LSN read up to; after the COMMIT, and only then, the replication slot "
                "is advanced to it (a run that fails or dies re-reads the same changes next time)"
            )
        return "\n".join(lines)

    def _describe_strategy(self, table: sa.Table, load_columns: list[TargetColumn], mapped: list[TargetColumn], stage: sa.Table) -> StagedLoad:
        config = self.config
        conn: Any = None  # statements are only compiled, never executed
        if config.mode == "scd2":
            return Scd2Load(
                conn, table, load_columns, stage, list(config.keys), tracked=self.tracked_columns(mapped),
                history=Scd2Columns(config.valid_from_column, config.valid_to_column, config.current_column, config.version_column),
                effective_from=config.effective_from, load_time=datetime.now(timezone.utc).replace(tzinfo=None),
                close_missing=config.close_missing,
            )
        keys = list(config.keys) if config.mode == "merge" else [config.hash_column or ""]
        return MergeLoad(conn, table, load_columns, stage, keys, delete_missing=config.delete_missing, insert_only=config.mode == "append")

    def committed_runs(self, pipeline: str) -> set[str]:
        engine = self._engine()
        with self._connect(engine) as conn:
            try:
                if not sa.inspect(conn).has_table(CONTROL_TABLE, schema=self.config.schema_name):
                    return set()
                control = control_table(sa.MetaData(), self.config.schema_name)
                rows = conn.execute(sa.select(control.c.run_id).where(control.c.pipeline == pipeline))
                return {row[0] for row in rows}
            except sa.exc.DBAPIError as exc:
                raise translate_error(exc, what=f"reading {CONTROL_TABLE}", dialect=conn.dialect) from exc

    def committed_load(self, run_id: str) -> ControlRecord | None:
        engine = self._engine()
        with self._connect(engine) as conn:
            try:
                if not sa.inspect(conn).has_table(CONTROL_TABLE, schema=self.config.schema_name):
                    return None
                control = control_table(sa.MetaData(), self.config.schema_name)
                row = conn.execute(sa.select(control).where(control.c.run_id == run_id)).first()
            except sa.exc.DBAPIError as exc:
                raise translate_error(exc, what=f"reading {CONTROL_TABLE}", dialect=conn.dialect) from exc
        if row is None:
            return None
        started = row.started_at.replace(tzinfo=timezone.utc) if row.started_at.tzinfo is None else row.started_at
        return ControlRecord(row.run_id, row.pipeline, started, row.rows_loaded, row.watermark)

    def committed_execution(self, pipeline: str, execution_id: str) -> str | None:
        engine = self._engine()
        with self._connect(engine) as conn:
            try:
                if not sa.inspect(conn).has_table(EXECUTIONS_TABLE, schema=self.config.schema_name):
                    return None
                executions = executions_table(sa.MetaData(), self.config.schema_name)
                return conn.execute(
                    sa.select(executions.c.run_id).where(executions.c.pipeline == pipeline, executions.c.execution_id == execution_id)
                ).scalar()
            except sa.exc.DBAPIError as exc:
                raise translate_error(exc, what=f"reading {EXECUTIONS_TABLE}", dialect=conn.dialect) from exc

    def open(self, columns: list[TargetColumn], run_id: str, *, planning: bool = False, load_time: datetime | None = None) -> SqlLoadSession:
        """Start a load. ``planning``: the session will be asked for plan() and rolled back, so
        what a replace removes is counted first. ``load_time`` (UTC): when SCD2 versions start."""
        self._check_mapping(columns)
        engine = self._engine()
        dialect = engine.dialect
        problems = self.capability_problems(dialect)
        if problems:
            raise ConfigError(f"target {self.label}: " + "; ".join(problems))
        load_time = _utc_naive(load_time or datetime.now(timezone.utc))
        metadata = sa.MetaData()
        table_columns = self.table_columns(columns)
        table = self.build_table(table_columns, dialect.name, metadata)
        control = control_table(metadata, self.config.schema_name)
        executions = executions_table(metadata, self.config.schema_name)
        dead = dead_letter_table(self.config.dead_letter_table, metadata, self.config.schema_name) if self.config.dead_letter_table else None
        conn = self._connect(engine)
        planned = PlannedChanges()
        try:
            # Preparation in its own short transaction. The control tables are bookkeeping,
            # not target data, so creating them here is harmless, and two first runs never
            # race for them inside their loads.
            with conn.begin():
                for bookkeeping in (control, executions, dead):
                    if bookkeeping is not None:
                        conn.execute(sa.schema.CreateTable(bookkeeping, if_not_exists=True))
                inspector = sa.inspect(conn)
                exists = inspector.has_table(self.config.table, schema=self.config.schema_name)
                if exists:
                    blocking = self._blocking_problems(inspector, conn, table_columns)
                    if blocking:
                        raise ConfigError(f"target {self.label} does not fit the mapping: " + "; ".join(blocking))
                elif not self.config.create_if_missing:
                    raise ConfigError(
                        f"table {self.label} does not exist and 'create_if_missing' is off: create it or turn the option on"
                    )
                elif dialect.name == "mysql":
                    # MySQL/MariaDB commit implicitly on every DDL statement, so a CREATE
                    # TABLE inside the load transaction would end it half way. The table is
                    # created first instead: a failed first run leaves it empty, never partial.
                    table.create(conn)
            transaction = conn.begin()
            if dialect.name == "sqlite":
                # pysqlite only starts a transaction before INSERT/UPDATE/DELETE and runs
                # CREATE TABLE in autocommit; an explicit BEGIN makes the DDL and the load
                # one transaction that a rollback undoes completely.
                raw = conn.connection.dbapi_connection
                if raw is not None and not raw.in_transaction:
                    conn.exec_driver_sql("BEGIN")
            if not exists and dialect.name != "mysql":
                table.create(conn)  # transactional DDL: a rollback removes the table again
            before = 0
            if planning and self.config.mode in ("append", "replace", "upsert", "cdc") and exists:
                before = int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
                if self.config.mode == "replace":
                    sample = conn.execute(sa.select(*[c.label(c.name) for c in table.columns]).limit(SAMPLE_ROWS))
                    planned.add("delete", before, pd.DataFrame([tuple(r) for r in sample], columns=[c.name for c in table.columns]))
            if self.config.mode == "replace" and exists:
                if dialect.name == "postgresql":
                    # TRUNCATE is transactional on PostgreSQL and far cheaper than DELETE on
                    # a big table; readers of the table wait until the load commits.
                    conn.exec_driver_sql(truncate_sql(dialect, table))
                else:
                    # MySQL's TRUNCATE commits implicitly (it is DDL there): DELETE stays
                    # inside the transaction.
                    conn.execute(table.delete())
            load = self._strategy(conn, table, table_columns, columns, load_time)
            partitions = (
                PartitionKeeper(conn, table, self.config.partition_column, self.config.partition_interval)
                if self.config.partition_column
                else None
            )
        except BaseException as exc:
            _discard(conn)
            if isinstance(exc, (EtlError, KeyboardInterrupt, SystemExit)):
                raise
            if isinstance(exc, sa.exc.DBAPIError):
                raise translate_error(exc, what=f"opening table {self.label}", dialect=dialect) from exc
            raise
        self.context.logger.debug("load into %s opened (run %s, mode %s)", self.label, run_id, self.config.mode)
        session = SqlLoadSession(self.label, conn, transaction, load, control, self._run_committed)
        session.mapped = list(columns)
        session.hash_column = self.config.hash_column
        session.partitions = partitions
        session.executions = executions
        session.dead_letter = dead
        session.mode = self.config.mode
        session.planned = planned
        session.rows_before = before
        session.logger = self.context.logger
        return session

    def _run_committed(self, run_id: str) -> bool:
        """Whether the control table holds ``run_id``, asked on a fresh connection."""
        control = control_table(sa.MetaData(), self.config.schema_name)
        with self._connect(self._engine()) as conn:
            found = conn.execute(sa.select(control.c.run_id).where(control.c.run_id == run_id)).first()
        return found is not None


def _columns_key(columns: list[TargetColumn]) -> tuple[tuple[str, str, bool], ...]:
    return tuple((column.name, column.type, column.nullable) for column in columns)


def _compiled(statement: sa.Executable, dialect: Dialect) -> str:
    """A statement as the database will receive it; values shown inline where the dialect can render them."""
    try:
        return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})).strip()
    except Exception:  # noqa: BLE001 - a value without a literal form: show placeholders instead
        return str(statement.compile(dialect=dialect)).strip()


def _discard(conn: Connection) -> None:
    """Roll back and close, even on a connection that is already dead."""
    try:
        conn.rollback()
    except Exception:  # noqa: BLE001 - the connection may be gone; it is invalidated below
        try:
            conn.invalidate()
        except Exception:  # noqa: BLE001
            pass
    try:
        conn.close()
    except Exception:  # noqa: BLE001
        pass


class SqlLoadSession(LoadSession):
    """One run's load: a single connection and transaction from open() to commit() or rollback()."""

    def __init__(
        self,
        label: str,
        conn: Connection,
        transaction: sa.RootTransaction,
        load: TableLoad,
        control: sa.Table,
        run_committed: Callable[[str], bool],
    ) -> None:
        self.label = label
        self.run_committed = run_committed
        self.conn = conn
        self.transaction = transaction
        self.load = load
        self.control = control
        self.rows_written = 0
        self.closed = False
        self.mapped: list[TargetColumn] = []
        self.hash_column: str | None = None
        self.partitions: PartitionKeeper | None = None
        self.executions: sa.Table | None = None
        self.dead_letter: sa.Table | None = None
        self.mode = "append"
        self.planned = PlannedChanges()
        self.rows_before = 0
        self.applied: dict[str, int] = {}
        self.insert_samples: list[pd.DataFrame] = []
        self.logger: Any = None

    @property
    def threaded_writes(self) -> bool:  # type: ignore[override]
        # One connection, used by one thread at a time; only SQLite's per-thread pool (an
        # in-memory database) ties a connection to the thread that opened it.
        return not isinstance(self.conn.engine.pool, sa.pool.SingletonThreadPool)

    @property
    def rejected(self) -> list[tuple[Any, str, dict[str, Any]]]:
        return self.load.rejected

    def _fail(self, exc: BaseException, what: str) -> BaseException:
        """Roll back, then give the error to raise (translated unless it is not a database error)."""
        raw = None
        try:
            raw = self.conn.connection.dbapi_connection
        except Exception:  # noqa: BLE001
            pass
        dialect = self.conn.dialect
        self.rollback()
        if isinstance(exc, EtlError) or not isinstance(exc, Exception):
            return exc
        if isinstance(exc, sa.exc.DBAPIError) or (dialect.dbapi is not None and isinstance(exc, dialect.dbapi.Error)):
            return translate_error(exc, what=what, dialect=dialect, dbapi_connection=raw)
        return exc

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError(f"the load into {self.label} is already committed or rolled back")

    def prepare_chunk(self, chunk: pd.DataFrame) -> Any:
        """A straight load (no hash column, no partitions to create first) has its chunk encoded here, on the run's thread."""
        if self.closed or len(chunk) == 0 or self.hash_column or self.partitions is not None or not isinstance(self.load, DirectLoad):
            return chunk
        encoded = self.load.encode(chunk)
        if encoded is None:
            return chunk
        self._take_sample(chunk)
        return encoded

    def write(self, chunk: Any) -> int:
        self._check_open()
        encoded = isinstance(chunk, EncodedChunk)  # prepare_chunk() took the samples of an encoded one
        if not encoded and len(chunk) == 0:
            return 0
        try:
            if encoded:
                written = self.load.write_encoded(chunk)
            else:
                if self.hash_column:
                    chunk = chunk.copy()
                    chunk[self.hash_column] = row_hashes(chunk, self.mapped)
                if self.partitions is not None:
                    # A captured delete or TRUNCATE carries no row to place in a partition.
                    self.partitions.ensure(chunk[~chunk[OP_COLUMN].isin(_NO_ROW_OPS)] if OP_COLUMN in chunk.columns else chunk)
                written = self.load.write(chunk)
        except BaseException as exc:
            error = self._fail(exc, f"loading table {self.label}")
            if error is exc:
                raise
            raise error from exc
        if not encoded:
            self._take_sample(chunk)
        self.rows_written += written
        return written

    def _take_sample(self, chunk: pd.DataFrame) -> None:
        """The first rows of a straight load, for the plan's samples."""
        if not self.insert_samples and isinstance(self.load, DirectLoad):
            self.insert_samples.append(chunk[[c.name for c in self.load.columns]].head(SAMPLE_ROWS))

    def plan(self) -> PlannedChanges:
        """What commit() would do; ask before rollback(), never before commit()."""
        self._check_open()
        try:
            changes = PlannedChanges(dict(self.planned.counts), dict(self.planned.samples), list(self.planned.notes))
            if isinstance(self.load, ChangeLoad):
                self._plan_changes(changes)
            elif isinstance(self.load, StagedLoad):
                staged = self.load.plan()
                for kind, count in staged.counts.items():
                    changes.add(kind, count, staged.samples.get(kind))
            else:
                sample = self.insert_samples[0] if self.insert_samples else None
                if self.mode == "upsert":
                    after = int(self.conn.execute(sa.select(sa.func.count()).select_from(self.load.table)).scalar_one())
                    inserted = after - self.rows_before
                    changes.add("insert", inserted)
                    changes.add("update", self.rows_written - inserted)
                    changes.notes.append("upsert: sample rows are inserted or updated, as their key decides")
                    if sample is not None:
                        changes.samples["upsert"] = sample
                else:
                    changes.add("insert", self.rows_written, sample)
            if self.rejected:
                changes.add("reject", len(self.rejected), rejected_rows_frame(self.rejected).head(SAMPLE_ROWS))
            if self.partitions is not None and self.partitions.created:
                changes.notes.append("partitions to create: " + ", ".join(self.partitions.created))
            return changes
        except BaseException as exc:
            error = self._fail(exc, f"planning the load into {self.label}")
            if error is exc:
                raise
            raise error from exc

    def _plan_changes(self, changes: PlannedChanges) -> None:
        assert isinstance(self.load, ChangeLoad)
        applied = self.load.applied
        after = int(self.conn.execute(sa.select(sa.func.count()).select_from(self.load.table)).scalar_one())
        if applied.truncated:
            changes.add("delete", self.rows_before)
            changes.add("insert", after)
            changes.notes.append(f"cdc: the changes hold {applied.truncated} TRUNCATE(s) of the source table, which empty the table")
        else:
            # Keys deleted that were not in the table make these counts estimates.
            inserted = min(max(after - self.rows_before + applied.deleted, 0), applied.upserted)
            changes.add("insert", inserted)
            changes.add("update", applied.upserted - inserted)
            changes.add("delete", applied.deleted)
        for kind, sample in self.load.samples.items():
            changes.samples[kind] = sample
        changes.notes.append("cdc: counted per key after collapsing each chunk's changes (the last change of a key counts)")

    def commit(self, control: ControlRecord) -> None:
        self._check_open()
        try:
            self.applied = self.load.apply()
            if self.applied and self.logger is not None:
                self.logger.info("%s into %s: %s", self.mode, self.label, ", ".join(f"{n} {k}" for k, n in self.applied.items()))
            now = datetime.now(timezone.utc).replace(tzinfo=None)
            if self.rejected and self.dead_letter is not None:
                self.conn.execute(
                    self.dead_letter.insert(),
                    [
                        {"run_id": control.run_id, "pipeline": control.pipeline, "source_row": _row_number(row),
                         "error": message, "row_values": json.dumps(values, ensure_ascii=False, default=str), "rejected_at": now}
                        for row, message, values in self.rejected
                    ],
                )
                if self.logger is not None:
                    self.logger.warning("%d row(s) refused by the database went to %s", len(self.rejected), self.dead_letter.name)
            if control.execution_id and self.executions is not None:
                executions = self.executions
                earlier = self.conn.execute(
                    sa.select(executions.c.run_id).where(
                        executions.c.pipeline == control.pipeline, executions.c.execution_id == control.execution_id
                    )
                ).scalar()
                if earlier is not None:
                    raise DataError(
                        f"execution {control.execution_id} of '{control.pipeline}' was already loaded by run {str(earlier)[:8]}; "
                        "nothing was loaded again"
                    )
                self.conn.execute(
                    executions.insert().values(
                        pipeline=control.pipeline, execution_id=control.execution_id, run_id=control.run_id, committed_at=now
                    )
                )
            self.conn.execute(
                self.control.insert().values(
                    run_id=control.run_id,
                    pipeline=control.pipeline,
                    started_at=_utc_naive(control.started_at),
                    finished_at=now,
                    rows_loaded=control.rows_loaded,
                    watermark=control.watermark,
                )
            )
            self.transaction.commit()
        except BaseException as exc:
            error = self._fail(exc, f"committing the load into {self.label}")
            if isinstance(error, TransientError) and self._committed_anyway(control.run_id):
                return
            if error is exc:
                raise
            raise error from exc
        self.closed = True
        self.conn.close()

    def _committed_anyway(self, run_id: str) -> bool:
        # A connection lost during COMMIT leaves it unknown whether the server committed;
        # the control row written in that transaction settles it. Retrying a load that did
        # commit would load its rows twice.
        try:
            return self.run_committed(run_id)
        except Exception:  # noqa: BLE001 - still unknown: the caller reports the lost connection
            return False

    def rollback(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.load.discard()
        _discard(self.conn)


_NO_ROW_OPS = ("delete", "truncate")


class ChangeLoad(TableLoad):
    """cdc: each chunk of captured changes applied as it comes (upsert and delete by key, TRUNCATE) in the
    session's transaction; the change columns steer apply_changes and are never written."""

    def __init__(self, conn: Connection, table: sa.Table, columns: list[TargetColumn], keys: list[str]) -> None:
        super().__init__(conn, table, columns)
        self.keys = keys
        self.applied = AppliedChanges()
        self.samples: dict[str, pd.DataFrame] = {}

    def write(self, chunk: pd.DataFrame) -> int:
        if OP_COLUMN not in chunk.columns:
            raise ConfigError(
                f"mode cdc applies captured changes, but the rows have no {OP_COLUMN} column: the source must be pg_cdc"
            )
        self.applied += apply_changes(self.conn, self.table, chunk, self.keys)
        ops = chunk[OP_COLUMN].astype("object")
        for kind, op_kinds in (("upsert", ("insert", "update")), ("delete", ("delete",))):
            if kind not in self.samples:
                rows = chunk[ops.isin(op_kinds)]
                if len(rows):
                    self.samples[kind] = rows[[c.name for c in self.columns if c.name in rows.columns]].head(SAMPLE_ROWS)
        return len(chunk)

    def apply(self) -> dict[str, int]:
        found = {"upserted": self.applied.upserted, "deleted": self.applied.deleted, "truncated": self.applied.truncated}
        return {kind: count for kind, count in found.items() if count}


def _row_number(label: Any) -> int | None:
    try:
        return int(label)
    except (TypeError, ValueError):
        return None
