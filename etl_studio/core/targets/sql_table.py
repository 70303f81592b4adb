"""The database table target: one transaction per run that loads the rows and writes the control row together."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from pydantic import ConfigDict, Field, field_validator, model_validator
from sqlalchemy.engine import Connection, Dialect, Engine

from etl_studio.core.connections import describe_url, explain_db_error
from etl_studio.core.errors import ConfigError, ConnectionFailedError, DataError, EtlError, TransientError
from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import targets
from etl_studio.core.project.models import TargetColumn
from etl_studio.core.targets.base import CONTROL_TABLE, ControlRecord, LoadSession, Target
from etl_studio.core.targets.sql_types import describe_sql_type, sql_type, type_fits
from etl_studio.core.targets.sql_writers import ChunkWriter, copy_from_stdin_sql, truncate_sql, writer_for
from etl_studio.core.types import parse_type

UPSERT_DIALECTS = ("postgresql", "mysql", "sqlite")
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
    mode: Literal["append", "replace", "upsert"] = Field(
        "append",
        description=(
            "append: add the rows; replace: remove all rows and load the new ones, in one transaction; "
            "upsert: update rows whose key exists and insert the others."
        ),
    )
    keys: list[str] = Field(
        default_factory=list,
        description="Key columns that identify a row: required for upsert; the primary key when the table is created.",
    )
    create_if_missing: bool = Field(True, description="Create the table from the mapping's columns when it does not exist.")

    @field_validator("schema_name")
    @classmethod
    def _empty_schema_is_default(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _keys_fit_mode(self) -> SqlTableConfig:
        if self.mode == "upsert" and not self.keys:
            raise ValueError("mode 'upsert' needs at least one key column in 'keys'")
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

    def _check_mapping(self, columns: list[TargetColumn]) -> None:
        if not columns:
            raise ConfigError(f"target {self.label}: the mapping has no columns to load")
        names = [column.name for column in columns]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ConfigError(f"target {self.label}: column {', '.join(twice)} appears more than once in the mapping")
        unknown = [key for key in self.config.keys if key not in names]
        if unknown:
            raise ConfigError(
                f"target {self.label}: key column {', '.join(unknown)} is not a column of the mapping "
                f"(columns: {', '.join(names)})"
            )

    def build_table(self, columns: list[TargetColumn], dialect_name: str, metadata: sa.MetaData | None = None) -> sa.Table:
        """The table as the mapping describes it: the DDL when it is created, the columns for loading.

        Column keys are neutral (c0, c1 ...) so names with spaces, quotes or '%' never reach
        a bound parameter's name; the database sees the real, quoted names.
        """
        keys = set(self.config.keys)
        sa_columns = [
            sa.Column(
                column.name,
                sql_type(parse_type(column.type), dialect_name, key=column.name in keys),
                key=f"c{index}",
                primary_key=column.name in keys,
                nullable=column.nullable and column.name not in keys,
                autoincrement=False,  # a key comes from the data, never from a sequence
            )
            for index, column in enumerate(columns)
        ]
        return sa.Table(self.config.table, metadata or sa.MetaData(), *sa_columns, schema=self.config.schema_name)

    def _compare(self, inspector: sa.Inspector, dialect: Dialect, columns: list[TargetColumn]) -> list[tuple[str, bool]]:
        """Differences between the existing table and the mapping, each flagged True if a load would fail."""
        table, schema = self.config.table, self.config.schema_name
        if not inspector.has_table(table, schema=schema):
            return []
        # PostgreSQL compares identifiers exactly; MySQL/MariaDB and SQLite ignore case.
        fold = (lambda name: name) if dialect.name == "postgresql" else str.casefold
        existing = {fold(info["name"]): info for info in inspector.get_columns(table, schema=schema)}
        mapped = {fold(column.name) for column in columns}
        keys = {fold(key) for key in self.config.keys}
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
        if self.config.mode == "upsert":
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
                        f"upsert keys ({', '.join(self.config.keys)}): table {self.label} has no primary key or unique "
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

    # -- Target contract ---------------------------------------------------------------

    def schema_differences(self, columns: list[TargetColumn]) -> list[str]:
        engine = self._engine()
        with self._connect(engine) as conn:
            try:
                return [line for line, _blocking in self._compare(sa.inspect(conn), conn.dialect, columns)]
            except sa.exc.DBAPIError as exc:
                raise translate_error(exc, what=f"reading table {self.label}", dialect=conn.dialect) from exc

    def describe_load(self, columns: list[TargetColumn]) -> str:
        engine = self._engine()
        dialect = engine.dialect
        table = self.build_table(columns, dialect.name)
        lines: list[str] = []
        try:
            with self._connect(engine) as conn:
                exists: bool | None = sa.inspect(conn).has_table(self.config.table, schema=self.config.schema_name)
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
        if dialect.name == "postgresql":
            copy = copy_from_stdin_sql(dialect, table, [column.name for column in columns])
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
        lines.append(f"INSERT INTO {preparer.quote(CONTROL_TABLE)} (run_id, ...) VALUES (...) and COMMIT, in the same transaction")
        return "\n".join(lines)

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

    def open(self, columns: list[TargetColumn], run_id: str) -> SqlLoadSession:
        self._check_mapping(columns)
        engine = self._engine()
        dialect = engine.dialect
        if self.config.mode == "upsert" and dialect.name not in UPSERT_DIALECTS:
            raise ConfigError(f"target {self.label}: upsert is not available on {dialect.name}; use append or replace")
        metadata = sa.MetaData()
        table = self.build_table(columns, dialect.name, metadata)
        control = control_table(metadata, self.config.schema_name)
        conn = self._connect(engine)
        try:
            # Preparation in its own short transaction. The control table is bookkeeping,
            # not target data, so creating it here is harmless, and two first runs never
            # race for it inside their loads.
            with conn.begin():
                conn.execute(sa.schema.CreateTable(control, if_not_exists=True))
                inspector = sa.inspect(conn)
                exists = inspector.has_table(self.config.table, schema=self.config.schema_name)
                if exists:
                    blocking = [line for line, stops in self._compare(inspector, dialect, columns) if stops]
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
            if self.config.mode == "replace" and exists:
                if dialect.name == "postgresql":
                    # TRUNCATE is transactional on PostgreSQL and far cheaper than DELETE on
                    # a big table; readers of the table wait until the load commits.
                    conn.exec_driver_sql(truncate_sql(dialect, table))
                else:
                    # MySQL's TRUNCATE commits implicitly (it is DDL there): DELETE stays
                    # inside the transaction.
                    conn.execute(table.delete())
            writer = writer_for(conn, table, columns, self.config.mode, self._key_names())
        except BaseException as exc:
            _discard(conn)
            if isinstance(exc, (EtlError, KeyboardInterrupt, SystemExit)):
                raise
            if isinstance(exc, sa.exc.DBAPIError):
                raise translate_error(exc, what=f"opening table {self.label}", dialect=dialect) from exc
            raise
        self.context.logger.debug("load into %s opened (run %s, mode %s)", self.label, run_id, self.config.mode)
        return SqlLoadSession(self.label, conn, transaction, writer, control, self._run_committed)

    def _run_committed(self, run_id: str) -> bool:
        """Whether the control table holds ``run_id``, asked on a fresh connection."""
        control = control_table(sa.MetaData(), self.config.schema_name)
        with self._connect(self._engine()) as conn:
            found = conn.execute(sa.select(control.c.run_id).where(control.c.run_id == run_id)).first()
        return found is not None


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
        writer: ChunkWriter,
        control: sa.Table,
        run_committed: Callable[[str], bool],
    ) -> None:
        self.label = label
        self.run_committed = run_committed
        self.conn = conn
        self.transaction = transaction
        self.writer = writer
        self.control = control
        self.rows_written = 0
        self.closed = False

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

    def write(self, chunk: pd.DataFrame) -> int:
        self._check_open()
        if len(chunk) == 0:
            return 0
        try:
            written = self.writer.write(chunk)
        except BaseException as exc:
            error = self._fail(exc, f"loading table {self.label}")
            if error is exc:
                raise
            raise error from exc
        self.rows_written += written
        return written

    def commit(self, control: ControlRecord) -> None:
        self._check_open()
        try:
            self.conn.execute(
                self.control.insert().values(
                    run_id=control.run_id,
                    pipeline=control.pipeline,
                    started_at=_utc_naive(control.started_at),
                    finished_at=datetime.now(timezone.utc).replace(tzinfo=None),
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
        _discard(self.conn)
