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
from etl_studio.core.sources._frames import pandas_dtype_for, unique_names, values_to_series
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
        exhausted = copying = False
        opened: sa.CursorResult[Any] | None = None
        # A query's own ORDER BY is lost once wrapped as a subquery (MariaDB drops it), so a
        # query is wrapped only for an explicit order_by; else we cut rows and columns here.
        here = bool(self.config.query) and not self.config.order_by
        try:
            statement, params, arrow_types = self._statement(conn, None if here else limit)
            copy = _PostgresCopyReader.prepare(conn, statement, params, arrow_types) if not here else None
            if copy is not None:
                copying = True
                exhausted = yield from copy.chunks(chunk_size, self.context.check_cancelled, self._failure)
                return
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
            if not exhausted and copying:
                conn.invalidate()  # a COPY stopped half way leaves the connection in the middle of it
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


# Result columns (type OIDs) that COPY's CSV text gives back exactly, as the Arrow type the
# source reads them as: integers, numeric, booleans, dates (ISO), text, floats (shortest exact).
_COPY_OIDS: dict[int, tuple[str, ...]] = {
    20: ("int64",), 21: ("int64",), 23: ("int64",), 1700: ("decimal",), 16: ("bool",), 1082: ("date32[day]",),
    25: ("string",), 1043: ("string",), 1042: ("string",), 700: ("double",), 701: ("double",),
}
_COPY_QUEUE = 1  # chunks read ahead of the one being turned into a frame


class _Stopped(Exception):
    """The reader of a COPY went away: end the COPY."""


class _PostgresCopyReader:
    """PostgreSQL: the SELECT streamed as ``COPY (SELECT ...) TO STDOUT (FORMAT csv)`` and parsed by
    Arrow, a chunk at a time, instead of a Python tuple per row through a server-side cursor.

    Only for results whose every column comes back exactly from CSV text (see ``_COPY_OIDS``);
    a value Arrow cannot read (a NaN numeric, an infinite date) goes through psycopg2's own
    converter for that column, so the frame is the one the cursor would have given.
    """

    def __init__(self, conn: Connection, sql: str, names: list[str], types: list[pa.DataType | None], oids: list[int]) -> None:
        self.conn, self.sql, self.names, self.types, self.oids = conn, sql, names, types, oids

    @classmethod
    def prepare(cls, conn: Connection, statement: sa.Executable, params: dict[str, Any],
                arrow_types: dict[str, pa.DataType | None]) -> _PostgresCopyReader | None:
        if conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg2" or not arrow_types:
            return None
        compiled = statement.compile(dialect=conn.dialect)
        processors = getattr(compiled, "_bind_processors", {})
        values = {**compiled.params, **params}
        values = {name: processors[name](value) if name in processors else value for name, value in values.items()}
        raw = conn.connection.dbapi_connection
        if raw is None or getattr(raw, "encoding", "") not in ("UTF8", "UNICODE"):
            return None
        with raw.cursor() as cursor:
            # Values bound by psycopg2 itself, exactly as execute() would send them.
            select = cursor.mogrify(compiled.string, values).decode("utf-8")
            cursor.execute("select current_setting('DateStyle'), current_setting('extra_float_digits')::int")
            date_style, float_digits = cursor.fetchone()
            cursor.execute("select * from (" + select + ") as etl_studio_copy limit 0")
            described = [(column.name, column.type_code) for column in cursor.description or []]
        names = [name for name, _ in described]
        if len(set(names)) != len(names) or set(names) != set(arrow_types):
            return None
        types = [arrow_types[name] for name in names]
        oids = [int(oid) for _, oid in described]
        for oid, arrow_type in zip(oids, types):
            if arrow_type is None or oid not in _COPY_OIDS or not str(arrow_type).startswith(_COPY_OIDS[oid]):
                return None
            if oid == 1082 and not str(date_style).upper().startswith("ISO"):
                return None
            if oid in (700, 701) and float_digits < 1:
                return None  # the text would round the value
        return cls(conn, "COPY (" + select + ") TO STDOUT WITH (FORMAT csv, ENCODING 'UTF8')", names, types, oids)

    def chunks(self, chunk_size: int, check_cancelled: Any, failure: Any) -> Iterator[pd.DataFrame]:
        """The frames; returns True once the COPY ran to its end."""
        import queue
        import threading

        pieces: queue.Queue[Any] = queue.Queue(maxsize=_COPY_QUEUE)
        stop = threading.Event()
        raw = self.conn.connection.dbapi_connection
        assert raw is not None

        def offer(item: Any) -> None:
            while not stop.is_set():
                try:
                    pieces.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue
            raise _Stopped

        class Sink:
            """psycopg2 writes one row per call; every chunk_size rows go to the reader as one buffer."""

            def __init__(self) -> None:
                self.rows: list[bytes] = []

            def write(self, row: bytes) -> None:
                self.rows.append(row)
                if len(self.rows) >= chunk_size:
                    rows, self.rows = self.rows, []
                    offer((len(rows), b"".join(rows)))

        def produce() -> None:
            sink = Sink()
            try:
                with raw.cursor() as cursor:
                    cursor.copy_expert(self.sql, sink)
                if sink.rows:
                    offer((len(sink.rows), b"".join(sink.rows)))
                offer(None)
            except _Stopped:
                pass
            except BaseException as exc:  # noqa: BLE001 - handed to the reader, raised there
                try:
                    offer(exc)
                except _Stopped:
                    pass

        producer = threading.Thread(target=produce, name="etl-studio-copy-out", daemon=True)
        producer.start()
        start = 0
        try:
            while True:
                item = pieces.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    dbapi = self.conn.dialect.dbapi
                    # psycopg2 may report a connection lost during COPY as a SystemError caused by it.
                    error: BaseException | None = item
                    while error is not None and not (dbapi is not None and isinstance(error, dbapi.Error)):
                        error = error.__cause__ or error.__context__
                    if error is not None and dbapi is not None:
                        wrapped = sa.exc.DBAPIError.instance(self.sql, None, error, dbapi.Error, dialect=self.conn.dialect)
                        if self.conn.dialect.is_disconnect(error, raw, None):
                            wrapped.connection_invalidated = True
                        raise failure(wrapped, f"reading failed after {start} rows") from None
                    raise item
                count, data = item
                check_cancelled()
                frame = self._frame(data, count, start, raw)
                yield frame
                start += count
            if start == 0:
                yield _frame([], self.names, self.types, 0)
            return True
        finally:
            stop.set()
            producer.join()

    def _frame(self, data: bytes, count: int, start: int, raw: Any) -> pd.DataFrame:
        import io

        import pyarrow.csv as pacsv
        import pyarrow.compute as pc

        fields = [f"c{index}" for index in range(len(self.names))]
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=fields),
            # NULL is an unquoted empty field and '' a quoted one: they stay apart.
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={f: pa.string() for f in fields}, null_values=[""],
                                                 strings_can_be_null=True, quoted_strings_can_be_null=False),
        )
        if table.num_rows != count:
            raise DataError(f"COPY gave {count} rows but {table.num_rows} were read")  # never expected
        columns: dict[str, pd.Series] = {}
        for name, field, arrow_type, oid in zip(self.names, fields, self.types, self.oids):
            texts = table.column(field)
            try:
                if oid == 16:
                    array = pc.equal(texts, "t")
                elif pa.types.is_string(arrow_type):
                    array = texts
                else:
                    array = pc.cast(texts, arrow_type)
                columns[name] = _typed_series(array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                # What the server cursor would have given: psycopg2's value, then the same typing.
                import psycopg2.extensions

                caster = psycopg2.extensions.string_types[oid]
                with raw.cursor() as cursor:
                    values = [None if text is None else caster(text, cursor) for text in texts.to_pylist()]
                columns[name] = values_to_series(values, arrow_type)
        frame = pd.DataFrame(columns)
        frame.index = pd.RangeIndex(start, start + count)
        return frame


def _typed_series(array: pa.Array) -> pd.Series:
    """As ``values_to_series`` types an Arrow array of the source's declared type."""
    dtype = pandas_dtype_for(array.type)
    if dtype is None:
        return array.to_pandas()
    return pd.Series(array.to_pandas(types_mapper=lambda _t: dtype))


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
