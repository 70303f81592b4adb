"""The database source: streams a table or a SELECT through a server-side cursor, keeping database types."""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Iterator, Sequence
from datetime import timezone
from typing import Any

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from pydantic import Field, model_validator
from sqlalchemy.engine import Connection, Engine

from etl_studio.core.connections import describe_url, explain_db_error
from etl_studio.core.errors import ConfigError, ConnectionFailedError, DataError, InvalidInputError, TransientError
from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import sources
from etl_studio.core.sources._frames import unique_names, values_to_series
from etl_studio.core.sources.base import Source
from etl_studio.core.types import MAX_DECIMAL_PRECISION

COUNT_BOUND = 1_000_000  # above this, counting rows for a progress bar costs more than it is worth
_SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog", "pg_toast", "mysql", "performance_schema", "sys"})
_ORDER = re.compile(r"^\s*(?P<name>.+?)(?:\s+(?P<direction>asc|desc))?\s*$", re.IGNORECASE)
_LEADING_COMMENTS = re.compile(r"^(\s+|--[^\n]*(\n|$)|/\*.*?\*/)*", re.DOTALL)


class SqlTableConfig(PluginConfig):
    connection: str = Field("", description="Name of one of the project's connections")
    table: str | None = Field(None, description='Table or view to read, e.g. "orders" or "sales.orders"; leave empty when using a query')
    query: str | None = Field(
        None, description="A SELECT to run instead of reading a table; run parameters are written :name (e.g. :run_date)"
    )
    columns: list[str] | None = Field(None, description="Read only these columns; empty: all columns")
    order_by: list[str] | None = Field(None, description='Sort by these columns, each optionally followed by "desc", e.g. ["created desc", "id"]')

    @model_validator(mode="after")
    def _table_or_query(self) -> "SqlTableConfig":
        if self.table and self.query:
            raise ValueError("set either a table or a query, not both")
        return self


@sources.register("sql_table")
class SqlTableSource(Source):
    config_model = SqlTableConfig
    title = "Database table"
    description = "Reads a table, a view or a SELECT from a database connection"

    config: SqlTableConfig
    # Set by the engine for an incremental run (etl_studio.core.engine.incremental.IncrementalWindow).
    incremental_window: Any = None

    def read_incremental(self, window: Any) -> bool:
        """Read only the window's rows: ``WHERE column > :watermark`` in the query, the value bound."""
        self.incremental_window = window
        return True

    # -- connecting -----------------------------------------------------------------------------

    def engine(self) -> Engine:
        if not self.config.connection:
            raise ConfigError("no connection chosen: set the source's connection")
        if not self.config.table and not (self.config.query or "").strip():
            raise ConfigError("set the table to read, or a query")
        if self.context.connections is None:
            raise ConfigError(f"connection '{self.config.connection}' is not available here (no project connections)")
        try:
            return self.context.connections.engine(self.config.connection)
        except ConfigError:
            raise
        except InvalidInputError as exc:
            raise ConfigError(str(exc)) from None

    def _connect(self, engine: Engine) -> Connection:
        try:
            return engine.connect()
        except sa.exc.DBAPIError as exc:
            raise ConnectionFailedError(
                f"connection '{self.config.connection}' ({describe_url(engine.url)}): {explain_db_error(exc)}"
            ) from None

    # -- reading --------------------------------------------------------------------------------

    def read_chunks(self, chunk_size: int, limit: int | None = None) -> Iterator[pd.DataFrame]:
        self.context.check_cancelled()
        chunk_size = max(1, chunk_size)
        engine = self.engine()
        conn = self._connect(engine)
        exhausted = False
        opened: sa.CursorResult[Any] | None = None
        # A query's own ORDER BY is lost once wrapped as a subquery (MariaDB drops it), so a
        # query is wrapped only for an explicit order_by; else we cut rows and columns here.
        here = bool(self.config.query) and not self.config.order_by
        try:
            statement, params, arrow_types = self._statement(conn, None if here else limit)
            # A server-side cursor: memory holds one chunk, not the whole result.
            streaming = conn.execution_options(stream_results=True, max_row_buffer=chunk_size)
            try:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=".*does \\*not\\* support Decimal objects natively")
                    result = streaming.execute(statement, params)
            except sa.exc.DBAPIError as exc:
                raise self._failure(exc, "the query failed") from None
            opened = result
            names = unique_names(result.keys())  # a join may return two columns called id
            keep = self._query_columns(names) if here else None
            types = [arrow_types.get(name) for name in names]
            partitions = result.partitions(chunk_size if limit is None else min(chunk_size, limit))
            start = 0
            while limit is None or start < limit:
                try:
                    rows = next(partitions, None)
                except sa.exc.DBAPIError as exc:
                    raise self._failure(exc, f"reading failed after {start} rows") from None
                if rows is None:
                    exhausted = True
                    break
                if limit is not None:
                    rows = rows[: limit - start]
                self.context.check_cancelled()
                frame = _frame(rows, names, types, start)
                yield frame[keep] if keep else frame
                start += len(rows)
            if start == 0:
                frame = _frame([], names, types, 0)
                yield frame[keep] if keep else frame
        finally:
            if not exhausted and conn.dialect.name in ("mysql", "mariadb"):
                # Closing an unfinished streaming result makes PyMySQL read every remaining
                # row first; dropping the connection ends it at once.
                _abandon(opened)
                conn.invalidate()
            conn.close()

    def _query_columns(self, names: list[str]) -> list[str] | None:
        if not self.config.columns:
            return None
        missing = [c for c in self.config.columns if c not in names]
        if missing:
            raise ConfigError(f"the query returns no column {', '.join(map(repr, missing))} (it returns: {', '.join(names)})")
        return list(self.config.columns)

    def _failure(self, exc: sa.exc.DBAPIError, what: str) -> Exception:
        message = f"connection '{self.config.connection}': {what}: {explain_db_error(exc)}"
        if exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError) and _looks_like_lost_connection(exc):
            return TransientError(message)
        if isinstance(exc, sa.exc.DataError):
            return DataError(message)
        return ConfigError(message)

    def _statement(self, conn: Connection, limit: int | None) -> tuple[sa.Executable, dict[str, Any], dict[str, pa.DataType | None]]:
        if self.config.table:
            return self._table_statement(conn, limit)
        return self._query_statement(limit)

    def _table_statement(self, conn: Connection, limit: int | None) -> tuple[sa.Executable, dict[str, Any], dict[str, pa.DataType | None]]:
        table = self.reflect(conn)
        available = [c.name for c in table.columns]
        selected = self._checked(self.config.columns or available, available, "column")
        columns = [table.c[name] for name in selected]
        statement = sa.select(*columns)
        for name, descending in self._order():
            self._checked([name], available, "order_by column")
            statement = statement.order_by(table.c[name].desc() if descending else table.c[name].asc())
        window = self.incremental_window
        if window is not None and window.lower is not None:
            self._checked([window.column], available, "incremental column")
            statement = statement.where(_after(table.c[window.column], window))
        if limit is not None:
            statement = statement.limit(limit)
        return statement, {}, {c.name: arrow_type_for(c.type) for c in columns}

    def _query_statement(self, limit: int | None) -> tuple[sa.Executable, dict[str, Any], dict[str, pa.DataType | None]]:
        query = (self.config.query or "").strip().rstrip(";").strip()
        first_word = _LEADING_COMMENTS.sub("", query).split(None, 1)[0].lower() if query else ""
        if first_word not in ("select", "with"):
            raise ConfigError("the source query must be a SELECT (or WITH ... SELECT); it reads data and changes nothing")
        text = sa.text(query)
        wanted = list(text.compile().params)
        missing = [name for name in wanted if name not in self.context.params]
        if missing:
            known = ", ".join(sorted(self.context.params)) or "none"
            raise ConfigError(f"the query uses :{', :'.join(missing)} but the run has no such parameter (parameters: {known})")
        params = {name: self.context.params[name] for name in wanted}
        order = self._order()
        window = self.incremental_window if self.incremental_window is not None and self.incremental_window.lower is not None else None
        if not order and window is None:
            return text, params, {}
        # Wrapped as a subquery so that ORDER BY and LIMIT are the database's work, not ours.
        inner = text.columns().subquery("source_query")
        picked = [sa.column(name) for name in self.config.columns] if self.config.columns else [sa.literal_column("*")]
        statement = sa.select(*picked).select_from(inner)
        if window is not None:
            statement = statement.where(_after(sa.column(window.column), window))
        for name, descending in order:
            statement = statement.order_by(sa.column(name).desc() if descending else sa.column(name).asc())
        if limit is not None:
            statement = statement.limit(limit)
        return statement, params, {}

    def _order(self) -> list[tuple[str, bool]]:
        order: list[tuple[str, bool]] = []
        for item in self.config.order_by or []:
            match = _ORDER.match(item)
            if not match or not match.group("name").strip():
                raise ConfigError(f"order_by: {item!r} is not a column name (optionally followed by asc or desc)")
            order.append((match.group("name").strip(), (match.group("direction") or "").lower() == "desc"))
        return order

    def _checked(self, names: Sequence[str], available: list[str], what: str) -> list[str]:
        missing = [n for n in names if n not in available]
        if missing:
            hints = []
            for name in missing:
                close = difflib.get_close_matches(name.lower(), [a.lower() for a in available], n=1)
                lookup = {a.lower(): a for a in available}
                hints.append(f"'{name}'" + (f" (did you mean '{lookup[close[0]]}'?)" if close else ""))
            raise ConfigError(f"table {self.config.table}: no {what} {', '.join(hints)}; columns: {', '.join(available)}")
        return list(names)

    def reflect(self, conn: Connection) -> sa.Table:
        """The configured table with its columns and types, read from the database."""
        schema, name = split_table_name(self.config.table or "")
        try:
            return sa.Table(name, sa.MetaData(), schema=schema, autoload_with=conn)
        except sa.exc.NoSuchTableError:
            pass
        except sa.exc.DBAPIError as exc:
            raise self._failure(exc, f"cannot read the definition of table {self.config.table}") from None
        try:
            known = list_tables(conn)
        except (sa.exc.DBAPIError, ConnectionFailedError):
            known = []
        lowered = {k.lower(): k for k in known}
        close = [lowered[c] for c in difflib.get_close_matches((self.config.table or "").lower(), list(lowered), n=5, cutoff=0.5)]
        if close:
            hint = f"; similar names: {', '.join(close)}"
        elif known:
            hint = f"; tables: {', '.join(known[:20])}{' ...' if len(known) > 20 else ''}"
        else:
            hint = "; the database has no tables"
        raise ConfigError(f"connection '{self.config.connection}': no table '{self.config.table}'{hint}")

    # -- progress -------------------------------------------------------------------------------

    def estimate_rows(self) -> int | None:
        """A cheap row count for the progress bar; None for queries or when counting would be slow."""
        if not self.config.table:
            return None
        try:
            engine = self.engine()
            with self._connect(engine) as conn:
                return self._estimate(conn)
        except (ConfigError, ConnectionFailedError, TransientError, DataError, sa.exc.SQLAlchemyError):
            return None

    def _estimate(self, conn: Connection) -> int | None:
        table = self.reflect(conn)
        backend = conn.dialect.name
        if backend == "postgresql":
            # The planner's statistics: free, and close enough once the table was analysed.
            qualified = conn.dialect.identifier_preparer.format_table(table)
            row = conn.execute(
                sa.text("select reltuples::bigint, relpages from pg_class where oid = to_regclass(:name)"), {"name": qualified}
            ).first()
            if row is not None and row[0] is not None and row[0] >= 0 and row[1] > 0:
                return int(row[0])
        # Counting stops at COUNT_BOUND, so a huge table never costs a full scan.
        bounded = sa.select(sa.literal(1)).select_from(table).limit(COUNT_BOUND + 1).subquery()
        count = int(conn.execute(sa.select(sa.func.count()).select_from(bounded)).scalar_one())
        if count <= COUNT_BOUND:
            return count
        if backend in ("mysql", "mariadb"):
            estimate = conn.execute(
                sa.text("select table_rows from information_schema.tables where table_schema = coalesce(:schema, database()) and table_name = :name"),
                {"schema": table.schema, "name": table.name},
            ).scalar()
            return int(estimate) if estimate and estimate > COUNT_BOUND else None
        return None


def _after(column: sa.ColumnElement[Any], window: Any) -> sa.ColumnElement[bool]:
    """``column > :etl_studio_watermark`` (``>=`` for a start value or a look-back), the value a bound parameter."""
    lower = window.lower
    if getattr(column.type, "timezone", False) and getattr(lower, "tzinfo", "n/a") is None:
        lower = lower.replace(tzinfo=timezone.utc)  # watermarks of aware columns are kept in UTC
    typed = column.type if not isinstance(column.type, sa.types.NullType) else None
    bound = sa.bindparam("etl_studio_watermark", lower, type_=typed)
    return column >= bound if window.inclusive else column > bound


def split_table_name(qualified: str) -> tuple[str | None, str]:
    """ "sales.orders" -> ("sales", "orders"); "orders" -> (None, "orders")."""
    schema, dot, name = qualified.strip().rpartition(".")
    return (schema or None) if dot else None, name


def list_tables(bind: Engine | Connection) -> list[str]:
    """Tables and views a source can read, for the app's table browser; other schemas as schema.table."""
    try:
        inspector = sa.inspect(bind)
        default = inspector.default_schema_name
        schemas = [default] if bind.dialect.name in ("sqlite", "mysql", "mariadb") else inspector.get_schema_names()
        names: list[str] = []
        for schema in schemas:
            if schema in _SYSTEM_SCHEMAS or (schema or "").startswith("pg_"):
                continue
            own = schema == default
            for name in [*inspector.get_table_names(schema=schema), *inspector.get_view_names(schema=schema)]:
                names.append(name if own else f"{schema}.{name}")
    except sa.exc.DBAPIError as exc:
        url = bind.engine.url if isinstance(bind, Connection) else bind.url
        raise ConnectionFailedError(f"{describe_url(url)}: {explain_db_error(exc)}") from None
    return sorted(set(names), key=str.lower)


def arrow_type_for(column_type: sa.types.TypeEngine[Any]) -> pa.DataType | None:
    """The Arrow type a declared column type is read as; None lets the values decide."""
    if isinstance(column_type, sa.Boolean):
        return pa.bool_()
    if isinstance(column_type, sa.Integer):
        return pa.int64()
    if isinstance(column_type, sa.Float):  # before Numeric: Float is a kind of Numeric
        return pa.float64()
    if isinstance(column_type, sa.Numeric):
        precision, scale = column_type.precision, column_type.scale or 0
        if precision and precision <= MAX_DECIMAL_PRECISION and scale <= precision:
            return pa.decimal128(precision, scale)
        return None  # NUMERIC without a precision: each chunk fits its own values
    if isinstance(column_type, (sa.String, sa.Enum)):
        return pa.string()
    if isinstance(column_type, sa.Date) and not isinstance(column_type, sa.DateTime):
        return pa.date32()
    return None


def _frame(rows: Sequence[Any], names: list[str], types: list[pa.DataType | None], start: int) -> pd.DataFrame:
    columns = list(zip(*rows)) if rows else [() for _ in names]
    frame = pd.DataFrame({name: values_to_series(list(values), arrow_type) for name, values, arrow_type in zip(names, columns, types)})
    frame.index = pd.RangeIndex(start, start + len(rows))
    return frame


def _abandon(result: sa.CursorResult[Any] | None) -> None:
    """Tell PyMySQL an unbuffered result is given up, so nothing (not even its __del__) drains it."""
    pending = getattr(getattr(result, "cursor", None), "_result", None)
    if getattr(pending, "unbuffered_active", False):
        pending.unbuffered_active = False


def _looks_like_lost_connection(exc: sa.exc.DBAPIError) -> bool:
    text = str(exc.orig or exc).lower()
    return any(
        phrase in text
        for phrase in ("lost connection", "server closed the connection", "connection reset", "broken pipe", "terminating connection", "gone away")
    )
