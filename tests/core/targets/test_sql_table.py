"""The database table target against real SQLite, PostgreSQL and MariaDB: all or nothing, types, upsert, control row."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pydantic
import pytest
import sqlalchemy as sa

from etl_studio.core.connections import ConnectionPool
from etl_studio.core.context import RunContext
from etl_studio.core.errors import ConfigError, ConnectionFailedError, DataError, TransientError
from etl_studio.core.plugins import load_builtin_plugins, targets
from etl_studio.core.project.models import Connection, Project, TargetColumn
from etl_studio.core.targets.base import CONTROL_TABLE, ControlRecord
from etl_studio.core.targets.sql_table import SqlTableConfig, SqlTableTarget
from etl_studio.core.targets.sql_types import type_family

load_builtin_plugins()


@dataclass
class Db:
    """One test database: its URL, a run context, an engine for checking, and tables to drop."""

    url: str
    context: RunContext
    engine: sa.Engine
    drop: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def target(self, table: str, **config: Any) -> SqlTableTarget:
        if table not in self.drop:
            self.drop.append(table)
        target = targets.get("sql_table").from_spec({"connection": "db", "table": table, **config}, self.context)
        assert isinstance(target, SqlTableTarget)
        return target

    def run_id(self) -> str:
        run_id = "test-" + uuid.uuid4().hex
        self.run_ids.append(run_id)
        return run_id

    def rows(self, table: str, order_by: str | None = None) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            reflected = sa.Table(table, sa.MetaData(), autoload_with=conn)
            order = reflected.c[order_by] if order_by else list(reflected.columns)[0]
            return [tuple(row) for row in conn.execute(sa.select(reflected).order_by(order))]

    def exists(self, table: str) -> bool:
        return sa.inspect(self.engine).has_table(table)

    def create(self, table: str, *columns: sa.Column[Any]) -> None:
        """Create a table the way someone else made it (test setup, not through the target)."""
        self.drop.append(table)
        sa.Table(table, sa.MetaData(), *columns).create(self.engine)


def make_context(url: str, project_dir: Path) -> RunContext:
    project = Project(connections=[Connection(name="db", url=url)])
    return RunContext(project_dir=project_dir, connections=ConnectionPool(project, project_dir))


@pytest.fixture
def db(any_db_url: str, tmp_path: Path) -> Iterator[Db]:
    context = make_context(any_db_url, tmp_path)
    engine = context.connections.engine("db")
    handle = Db(any_db_url, context, engine)
    yield handle
    with engine.begin() as conn:
        for table in handle.drop:
            sa.Table(table, sa.MetaData()).drop(conn, checkfirst=True)
        if handle.run_ids and sa.inspect(conn).has_table(CONTROL_TABLE):
            control = sa.Table(CONTROL_TABLE, sa.MetaData(), autoload_with=conn)
            conn.execute(control.delete().where(control.c.run_id.in_(handle.run_ids)))
    context.connections.dispose()


@pytest.fixture
def pg(postgres_url: str, tmp_path: Path) -> Iterator[Db]:
    context = make_context(postgres_url, tmp_path)
    handle = Db(postgres_url, context, context.connections.engine("db"))
    yield handle
    with handle.engine.begin() as conn:
        for table in handle.drop:
            sa.Table(table, sa.MetaData()).drop(conn, checkfirst=True)
    context.connections.dispose()


def cols(*specs: str, nullable: bool = True) -> list[TargetColumn]:
    """``cols("id:integer", "name")`` -> TargetColumns (type defaults to string)."""
    out = []
    for spec in specs:
        name, _, type_ = spec.partition(":")
        out.append(TargetColumn(name=name, type=type_ or "string", nullable=nullable))
    return out


def control(run_id: str, rows: int = 0, pipeline: str = "orders") -> ControlRecord:
    return ControlRecord(run_id=run_id, pipeline=pipeline, started_at=datetime.now(timezone.utc), rows_loaded=rows, watermark="w1")


def load(db: Db, target: SqlTableTarget, columns: list[TargetColumn], *chunks: pd.DataFrame, pipeline: str = "orders") -> str:
    run_id = db.run_id()
    session = target.open(columns, run_id)
    total = sum(session.write(chunk) for chunk in chunks)
    session.commit(control(run_id, total, pipeline))
    return run_id


ID_NAME = cols("id:integer", "name")


def id_name(*rows: tuple[int, str | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {"id": pd.array([r[0] for r in rows], dtype="Int64"), "name": pd.array([r[1] for r in rows], dtype="string")}
    )


# -- registration and config ------------------------------------------------------------


def test_registered_under_stable_key_with_documented_fields() -> None:
    assert targets.get("sql_table") is SqlTableTarget
    assert SqlTableTarget.title
    properties = SqlTableConfig.model_json_schema()["properties"]
    assert {"connection", "table", "schema", "mode", "keys", "create_if_missing"} <= set(properties)
    assert {"delete_missing", "tracked_columns", "effective_from", "close_missing", "hash_column", "partition_column",
            "dead_letter_table"} <= set(properties)
    assert all(prop.get("description") for prop in properties.values())


def test_config_needs_keys_for_upsert_and_reads_schema() -> None:
    with pytest.raises(pydantic.ValidationError, match="upsert"):
        SqlTableConfig.model_validate({"connection": "db", "table": "t", "mode": "upsert"})
    config = SqlTableConfig.model_validate({"connection": "db", "table": "t", "schema": "sales"})
    assert config.schema_name == "sales"
    assert config.model_dump()["schema"] == "sales"
    assert SqlTableConfig.model_validate(config.model_dump()) == config
    with pytest.raises(pydantic.ValidationError):
        SqlTableConfig.model_validate({"connection": "db", "table": "t", "mdoe": "append"})


# -- create, types, append, replace ---------------------------------------------------------


TYPED = cols(
    "id:integer", "name", "amount:decimal(10,2)", "ratio:float", "active:boolean", "day:date", "at:datetime", "qty:integer"
)


def typed_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.array([1, 2, 3], dtype="Int64"),
            "name": pd.array(["Ann", "", None], dtype=pd.StringDtype()),
            "amount": pd.array(
                [Decimal("7427.39"), Decimal("-0.01"), None], dtype=pd.ArrowDtype(pa.decimal128(10, 2))
            ),
            "ratio": pd.array([0.5, None, 1e-9], dtype="Float64"),
            "active": pd.array([True, False, None], dtype="boolean"),
            "day": pd.array([date(2024, 2, 29), date(1999, 12, 31), None], dtype=pd.ArrowDtype(pa.date32())),
            "at": pd.Series(
                [datetime(2024, 2, 29, 23, 59, 58, 123456), datetime(2000, 1, 1), None], dtype="datetime64[us]"
            ),
            "qty": pd.array([None, 7, None], dtype="Int64"),
        }
    )


def test_creates_table_from_mapping_with_exact_values(db: Db, table_name: str) -> None:
    target = db.target(table_name)
    assert target.schema_differences(TYPED) == []  # absent: it will be created
    load(db, target, TYPED, typed_frame())

    inspector = sa.inspect(db.engine)
    families = {c["name"]: type_family(c["type"]) for c in inspector.get_columns(table_name)}
    assert families == {
        "id": "integer", "name": "string", "amount": "decimal", "ratio": "float",
        "active": "boolean", "day": "date", "at": "datetime", "qty": "integer",
    }
    amount = next(c for c in inspector.get_columns(table_name) if c["name"] == "amount")
    assert (amount["type"].precision, amount["type"].scale) == (10, 2)
    assert target.schema_differences(TYPED) == []

    rows = db.rows(table_name)
    assert [r[0] for r in rows] == [1, 2, 3]
    assert rows[0][2] == Decimal("7427.39") and str(rows[0][2]) == "7427.39"
    assert rows[1][2] == Decimal("-0.01") and rows[2][2] is None
    assert [r[1] for r in rows] == ["Ann", "", None]
    assert [bool(r[4]) if r[4] is not None else None for r in rows] == [True, False, None]
    assert [r[5] for r in rows] == [date(2024, 2, 29), date(1999, 12, 31), None]
    assert [r[6] for r in rows] == [datetime(2024, 2, 29, 23, 59, 58, 123456), datetime(2000, 1, 1), None]
    assert [r[7] for r in rows] == [None, 7, None]
    assert float(rows[0][3]) == 0.5 and rows[1][3] is None


def test_plain_numpy_and_object_frames_load(db: Db, table_name: str) -> None:
    target = db.target(table_name)
    frame = pd.DataFrame(
        {
            "id": [1, 2],
            "name": ["a", None],
            "amount": [Decimal("1.10"), 2],  # an int where a decimal is due
            "ratio": [1.5, float("nan")],
            "active": [True, False],
            "day": [date(2024, 1, 1), None],
            "at": pd.to_datetime(["2024-01-01 10:00:00", "2024-01-02 11:00:00"]),
            "qty": [None, 3],
        }
    )
    load(db, target, TYPED, frame)
    rows = db.rows(table_name)
    assert rows[0][:3] == (1, "a", Decimal("1.10")) and rows[1][:3] == (2, None, Decimal("2.00"))
    assert rows[1][7] == 3 and rows[0][7] is None


def test_append_adds_rows(db: Db, table_name: str) -> None:
    target = db.target(table_name)
    load(db, target, ID_NAME, id_name((1, "a")))
    load(db, target, ID_NAME, id_name((2, "b")), id_name((3, "c")))
    assert db.rows(table_name) == [(1, "a"), (2, "b"), (3, "c")]


def test_replace_swaps_all_rows(db: Db, table_name: str) -> None:
    load(db, db.target(table_name), ID_NAME, id_name((1, "old"), (2, "old")))
    load(db, db.target(table_name, mode="replace"), ID_NAME, id_name((3, "new")))
    assert db.rows(table_name) == [(3, "new")]


def test_replace_failing_mid_load_keeps_old_rows(db: Db, table_name: str) -> None:
    keyed = db.target(table_name, keys=["id"])
    load(db, keyed, ID_NAME, id_name((1, "old"), (2, "old")))
    before = db.rows(table_name)
    session = db.target(table_name, mode="replace", keys=["id"]).open(ID_NAME, db.run_id())
    session.write(id_name((5, "new")))
    with pytest.raises(DataError) as error:
        session.write(id_name((5, "again")))  # primary key violation in the second chunk
    assert "\n" not in str(error.value) and table_name in str(error.value)
    session.rollback()
    assert db.rows(table_name) == before


# -- upsert ------------------------------------------------------------------------------------


def test_upsert_updates_inserts_and_last_duplicate_wins(db: Db, table_name: str) -> None:
    target = db.target(table_name, mode="upsert", keys=["id"])
    load(db, target, ID_NAME, id_name((1, "a"), (2, "b")))
    load(
        db,
        target,
        ID_NAME,
        id_name((2, "b2"), (3, "c"), (3, "c2"), (2, "b3")),  # the same key twice in one chunk
        id_name((3, "c3"), (4, None)),  # and again in a later chunk
    )
    assert db.rows(table_name) == [(1, "a"), (2, "b3"), (3, "c3"), (4, None)]


def test_upsert_with_composite_string_key_and_only_key_columns(db: Db, table_name: str) -> None:
    columns = cols("region", "code")
    target = db.target(table_name, mode="upsert", keys=["region", "code"])
    frame = pd.DataFrame({"region": ["eu", "eu", "us"], "code": ["01", "01", "01"]}, dtype="string")
    load(db, target, columns, frame)
    load(db, target, columns, frame)
    assert db.rows(table_name, order_by="region") == [("eu", "01"), ("us", "01")]


def test_upsert_into_table_without_unique_key_is_refused(db: Db, table_name: str) -> None:
    db.create(table_name, sa.Column("id", sa.BigInteger), sa.Column("name", sa.String(50)))
    target = db.target(table_name, mode="upsert", keys=["id"])
    assert any("no primary key or unique constraint" in line for line in target.schema_differences(ID_NAME))
    with pytest.raises(ConfigError, match="unique"):
        target.open(ID_NAME, db.run_id())


# -- rollback and the control row -----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["append", "replace", "upsert"])
def test_rollback_leaves_table_exactly_as_before(db: Db, table_name: str, mode: str) -> None:
    target = db.target(table_name, mode=mode, keys=["id"])
    load(db, target, ID_NAME, id_name((1, "a"), (2, None)))
    before = db.rows(table_name)
    run_id = db.run_id()
    session = target.open(ID_NAME, run_id)
    session.write(id_name((3, "new")) if mode == "append" else id_name((1, "changed"), (3, "new")))
    session.rollback()
    session.rollback()  # idempotent
    assert db.rows(table_name) == before
    assert run_id not in target.committed_runs("orders")


def test_rollback_of_first_run_leaves_no_rows(db: Db, table_name: str) -> None:
    target = db.target(table_name)
    session = target.open(ID_NAME, db.run_id())
    session.write(id_name((1, "a")))
    session.rollback()
    if db.dialect == "mysql":
        # MySQL commits DDL implicitly, so the table was created before the load began.
        assert db.rows(table_name) == []
    else:
        assert not db.exists(table_name)


def test_control_row_after_commit_and_not_after_rollback(db: Db, table_name: str) -> None:
    target = db.target(table_name)
    pipeline = "p-" + uuid.uuid4().hex[:8]
    committed = load(db, target, ID_NAME, id_name((1, "a"), (2, "b")), pipeline=pipeline)
    rolled_back = db.run_id()
    session = target.open(ID_NAME, rolled_back)
    session.write(id_name((3, "c")))
    session.rollback()
    assert target.committed_runs(pipeline) == {committed}
    assert target.committed_runs("no such pipeline") == set()
    with db.engine.connect() as conn:
        table = sa.Table(CONTROL_TABLE, sa.MetaData(), autoload_with=conn)
        row = conn.execute(sa.select(table).where(table.c.run_id == committed)).mappings().one()
    assert row["pipeline"] == pipeline and row["rows_loaded"] == 2 and row["watermark"] == "w1"
    assert row["finished_at"] >= row["started_at"]


def test_control_row_conflict_rolls_back_the_data(db: Db, table_name: str) -> None:
    target = db.target(table_name, keys=["id"])
    run_id = load(db, target, ID_NAME, id_name((1, "a")))
    session = target.open(ID_NAME, run_id)
    session.write(id_name((2, "b")))
    with pytest.raises(DataError):
        session.commit(control(run_id))  # the same run id twice: the proof row cannot be written
    assert db.rows(table_name) == [(1, "a")]


def test_write_after_commit_is_refused(db: Db, table_name: str) -> None:
    target = db.target(table_name)
    run_id = db.run_id()
    session = target.open(ID_NAME, run_id)
    session.commit(control(run_id))
    with pytest.raises(RuntimeError):
        session.write(id_name((1, "a")))
    session.rollback()  # harmless after commit


# -- schema checks and description -------------------------------------------------------------


def test_schema_differences_name_every_mismatch(db: Db, table_name: str) -> None:
    db.create(
        table_name,
        sa.Column("id", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.Text),
        sa.Column("note", sa.String(20), nullable=False),
        sa.Column("spare", sa.String(20)),
        sa.Column("flag", sa.Boolean, nullable=False),
    )
    columns = [
        TargetColumn(name="id", type="integer"),
        TargetColumn(name="amount", type="decimal(10,2)"),
        TargetColumn(name="flag", type="boolean", nullable=True),
        TargetColumn(name="missing", type="date"),
    ]
    lines = db.target(table_name, mode="upsert", keys=["id"]).schema_differences(columns)
    text = "\n".join(lines)
    assert any(line.startswith("column amount: table has TEXT") and "mapping says decimal(10,2)" in line for line in lines), text
    assert any("column missing: missing in table" in line for line in lines), text
    assert any(line.startswith("column note: NOT NULL without a default") for line in lines), text
    assert any("column flag: table says NOT NULL, mapping allows NULL" in line for line in lines), text
    assert any("upsert keys (id)" in line for line in lines), text
    assert not any("spare" in line for line in lines), text  # nullable extra column: harmless
    assert len(lines) == 5, text
    with pytest.raises(ConfigError, match="missing"):
        db.target(table_name).open(columns, db.run_id())


def test_missing_table_without_create_is_refused(db: Db, table_name: str) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        db.target(table_name, create_if_missing=False).open(ID_NAME, db.run_id())
    assert not db.exists(table_name)


def test_describe_load_shows_ddl_and_statement(db: Db, table_name: str) -> None:
    text = db.target(table_name, mode="upsert", keys=["id"]).describe_load(TYPED)
    assert "CREATE TABLE" in text and "PRIMARY KEY" in text
    expected = {
        "postgresql": "ON CONFLICT",
        "mysql": "ON DUPLICATE KEY UPDATE",
        "sqlite": "ON CONFLICT",
    }[db.dialect]
    assert expected in text
    replace = db.target(table_name, mode="replace").describe_load(TYPED)
    assert ("TRUNCATE" if db.dialect == "postgresql" else "DELETE FROM") in replace
    if db.dialect == "postgresql":
        assert "COPY" in replace and "FORMAT csv" in replace


# -- identifiers and values ---------------------------------------------------------------------


def test_awkward_identifiers(db: Db, table_name: str) -> None:
    columns = cols("Order Total:decimal(12,2)", 'say "hi"', "it's", "MiXed", "select")
    frame = pd.DataFrame(
        {
            "Order Total": [Decimal("1.50")],
            'say "hi"': ["x"],
            "it's": ["y"],
            "MiXed": ["z"],
            "select": ["w"],
        }
    )
    for table in ("select", f'Mixed "Quoted" Name {table_name}'):
        target = db.target(table, mode="upsert", keys=["MiXed"])
        load(db, target, columns, frame)
        load(db, target, columns, frame)
        assert db.rows(table) == [(Decimal("1.50"), "x", "y", "z", "w")]
        assert target.schema_differences(columns) == []


def test_empty_string_and_null_stay_different(db: Db, table_name: str) -> None:
    columns = cols("id:integer", "text", "note")
    frame = pd.DataFrame(
        {
            "id": pd.array([1, 2, 3, 4], dtype="Int64"),
            "text": pd.array(["", None, '"', "a,b\nc"], dtype="string"),
            "note": pd.array([None, "", "\\N", "NULL"], dtype="string"),
        }
    )
    load(db, db.target(table_name), columns, frame)
    assert db.rows(table_name) == [(1, "", None), (2, None, ""), (3, '"', "\\N"), (4, "a,b\nc", "NULL")]


def test_unicode_round_trip(db: Db, table_name: str) -> None:
    load(db, db.target(table_name), ID_NAME, id_name((1, "Zoë 東京 🚀")))
    assert db.rows(table_name) == [(1, "Zoë 東京 🚀")]


def test_bad_value_is_a_data_error_with_the_database_message(db: Db, table_name: str) -> None:
    columns = [TargetColumn(name="id", type="integer"), TargetColumn(name="name", type="string", nullable=False)]
    target = db.target(table_name)
    session = target.open(columns, db.run_id())
    with pytest.raises(DataError) as error:
        session.write(id_name((1, None)))  # NULL into NOT NULL
    message = str(error.value)
    assert "\n" not in message and table_name in message
    assert any(word in message.lower() for word in ("null", "not-null", "cannot be null")), message


def test_value_that_does_not_fit_the_type_is_a_data_error(db: Db, table_name: str) -> None:
    columns = cols("amount:decimal(4,2)")
    session = db.target(table_name).open(columns, db.run_id())
    with pytest.raises(DataError, match="amount"):
        session.write(pd.DataFrame({"amount": [Decimal("1.234")]}))  # more decimals than the column holds
    session.rollback()


# -- connection errors -------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["postgresql://postgres@127.0.0.1:1/test", "mysql://root@127.0.0.1:1/test"])
def test_refused_connection_is_connection_failed(url: str, tmp_path: Path) -> None:
    context = make_context(url, tmp_path)
    target = targets.get("sql_table").from_spec({"connection": "db", "table": "t"}, context)
    with pytest.raises(ConnectionFailedError) as error:
        target.open(ID_NAME, "r")
    assert "\n" not in str(error.value) and "'db'" in str(error.value)


def test_wrong_password_is_connection_failed(mysql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETL_TEST_BAD_PASSWORD", "certainly-wrong")
    url = sa.make_url(mysql_url).set(username="etl_nobody").render_as_string(hide_password=False)
    project = Project(connections=[Connection(name="db", url=url, password="${ETL_TEST_BAD_PASSWORD}")])
    context = RunContext(project_dir=tmp_path, connections=ConnectionPool(project, tmp_path))
    target = targets.get("sql_table").from_spec({"connection": "db", "table": "t"}, context)
    with pytest.raises(ConnectionFailedError, match="denied") as error:
        target.committed_runs("p")
    assert "certainly-wrong" not in str(error.value)


def _kill(handle: Db, session: Any, server: str) -> None:
    """End the session's server connection from another connection, as a network drop would."""
    pid = session.conn.exec_driver_sql(
        "select pg_backend_pid()" if server == "postgresql" else "select connection_id()"
    ).scalar()
    killer = sa.create_engine(handle.engine.url)
    with killer.connect() as conn:
        if server == "postgresql":
            conn.execute(sa.text("select pg_terminate_backend(:pid)"), {"pid": pid})
        else:
            conn.execute(sa.text("KILL :pid"), {"pid": int(pid)})
    killer.dispose()


@pytest.mark.parametrize("step", ["write", "commit"])
@pytest.mark.parametrize("server", ["postgresql", "mysql"])
def test_lost_connection_is_transient_and_loads_nothing(
    server: str, step: str, request: pytest.FixtureRequest, tmp_path: Path, table_name: str
) -> None:
    url = request.getfixturevalue("postgres_url" if server == "postgresql" else "mysql_url")
    context = make_context(url, tmp_path)
    handle = Db(url, context, context.connections.engine("db"))
    try:
        target = handle.target(table_name)
        run_id = handle.run_id()
        session = target.open(ID_NAME, run_id)
        session.write(id_name((1, "a")))
        _kill(handle, session, server)
        with pytest.raises(TransientError, match="lost the connection"):
            if step == "write":
                session.write(id_name((2, "b")))
            else:
                session.commit(control(run_id))
        session.rollback()
        # Nothing of the broken run is visible (the first run's table was created inside the
        # load on PostgreSQL, before it on MariaDB).
        assert not handle.exists(table_name) or handle.rows(table_name) == []
        assert run_id not in target.committed_runs("orders")
    finally:
        with handle.engine.begin() as conn:
            sa.Table(table_name, sa.MetaData()).drop(conn, checkfirst=True)
        context.connections.dispose()


# -- PostgreSQL specifics ---------------------------------------------------------------------


def test_postgres_loads_into_a_schema_and_reads_are_isolated(pg: Db, table_name: str) -> None:
    schema = "s_" + uuid.uuid4().hex[:8]
    with pg.engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema(schema))
    try:
        target = pg.target(table_name, schema=schema, mode="replace")
        run_id = pg.run_id()
        session = target.open(ID_NAME, run_id)
        session.write(id_name((1, "a")))
        # Before commit, another connection does not see the table at all.
        assert not sa.inspect(pg.engine).has_table(table_name, schema=schema)
        session.commit(control(run_id))
        assert target.committed_runs("orders") == {run_id}
        with pg.engine.connect() as conn:
            table = sa.Table(table_name, sa.MetaData(), schema=schema, autoload_with=conn)
            assert [tuple(r) for r in conn.execute(sa.select(table))] == [(1, "a")]
    finally:
        with pg.engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(schema, cascade=True))


def test_postgres_many_chunks_upsert_in_other_thread(pg: Db, table_name: str) -> None:
    # The engine runs loads in worker threads: the session must not depend on the opener's thread.
    target = pg.target(table_name, mode="upsert", keys=["id"])
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(2):
                chunks = [id_name(*[(i, f"v{i}") for i in range(start, start + 500)]) for start in range(0, 5000, 500)]
                load(pg, target, ID_NAME, *chunks)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert not errors
    assert len(pg.rows(table_name)) == 5000


def test_describing_a_load_into_a_sqlite_file_not_made_yet_does_not_make_it(tmp_path: Path) -> None:
    from etl_studio.core.connections import ConnectionPool
    from etl_studio.core.context import RunContext
    from etl_studio.core.project.models import Connection, Project
    from etl_studio.core.targets.sql_table import SqlTableTarget

    project = Project(connections=[Connection(name="db", url="sqlite:///later.db")])
    context = RunContext(project_dir=tmp_path, connections=ConnectionPool(project, tmp_path))
    target = SqlTableTarget.from_spec({"connection": "db", "table": "orders", "mode": "replace"}, context)
    columns = [TargetColumn(name="id", type="integer", nullable=False)]
    assert "CREATE TABLE" in target.describe_load(columns)
    assert target.schema_differences(columns) == []
    context.connections.dispose()
    assert not (tmp_path / "later.db").exists()
