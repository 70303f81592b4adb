"""PostgreSQL change data capture on the real server: read a slot, apply to a target, advance only after commit."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl_studio.core.cdc.apply import AppliedChanges, apply_changes
from etl_studio.core.cdc.slots import drop_slot, slot_status, wal_level_problem
from etl_studio.core.connections import build_url
from etl_studio.core.context import RunContext
from etl_studio.core.errors import ConfigError, DataError
from etl_studio.core.project.models import Connection
from etl_studio.core.sources.pg_cdc import PgCdcSource

COLUMNS = 'id integer primary key, name text, amount numeric(10,2), day date, active boolean, "odd ""name""" text, seen timestamp'


@pytest.fixture
def engine(postgres_url: str, tmp_path: Path) -> Iterator[Engine]:
    engine = sa.create_engine(build_url(Connection(name="db", url=postgres_url), tmp_path))
    yield engine
    engine.dispose()


@pytest.fixture
def slot(engine: Engine) -> Iterator[str]:
    name = f"etl_test_{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        drop_slot(engine, name, missing_ok=True)  # a slot left behind keeps WAL on the server forever


@pytest.fixture
def tables(engine: Engine, table_name: str) -> Iterator[tuple[str, str]]:
    source, target = table_name, f"{table_name}_target"
    with engine.begin() as conn:
        for name in (source, target):
            conn.exec_driver_sql(f"create table {name} ({COLUMNS})")
    try:
        yield source, target
    finally:
        with engine.begin() as conn:
            for name in (source, target):
                conn.exec_driver_sql(f"drop table if exists {name}")


@pytest.fixture
def cdc(db_context: Callable[..., RunContext], postgres_url: str, slot: str, tables: tuple[str, str]) -> PgCdcSource:
    source = PgCdcSource.from_spec({"connection": "db", "slot": slot, "table": tables[0]}, db_context(postgres_url))
    source.create_slot()
    return source  # type: ignore[return-value]


def run_sql(engine: Engine, *statements: str, params: dict[str, object] | None = None) -> None:
    """Each statement in its own transaction, so each is its own commit in the WAL."""
    for statement in statements:
        with engine.begin() as conn:
            conn.execute(sa.text(statement), params or {})


def read(source: PgCdcSource, chunk_size: int = 1000, limit: int | None = None) -> list[pd.DataFrame]:
    return list(source.read_chunks(chunk_size, limit))


def load(engine: Engine, target: str, chunks: list[pd.DataFrame]) -> AppliedChanges:
    """What a CDC load does: apply every chunk in one transaction."""
    total = AppliedChanges()
    with engine.begin() as conn:
        table = sa.Table(target, sa.MetaData(), autoload_with=conn)
        for chunk in chunks:
            total += apply_changes(conn, table, chunk, ["id"])
    return total


def rows(engine: Engine, table: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(f"select * from {table} order by id"))]


def test_changes_applied_to_a_target_make_it_equal_to_the_source(engine: Engine, cdc: PgCdcSource, tables: tuple[str, str]) -> None:
    source, target = tables
    run_sql(
        engine,
        f"insert into {source} values (1, 'Ann', 10.50, '2024-01-02', true, 'x', '2024-01-02 10:00:00'), "
        f"(2, 'O''Brien', null, null, false, 'two words', null), (3, 'Cy', 3, '2024-03-03', null, null, null)",
        f"update {source} set name = 'Anne', amount = 11.25 where id = 1",
        f"delete from {source} where id = 3",
        f"update {source} set id = 20 where id = 2",  # the key changes: old row gone, new row there
        f"insert into {source} values (3, 'Cy again', 4, null, true, null, null)",
    )
    chunks = read(cdc, chunk_size=2)
    assert [list(c.index) for c in chunks] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    changes = pd.concat(chunks)
    assert changes["__op__"].tolist() == ["insert", "insert", "insert", "update", "delete", "delete", "update", "insert"]
    assert changes["id"].tolist() == [1, 2, 3, 1, 3, 2, 20, 3]
    lsns = changes["__lsn__"].tolist()
    assert lsns == sorted(lsns) and len(lsns[0]) == 17, "zero-padded, so text order is LSN order"
    assert changes.loc[1, "name"] == "O'Brien" and changes.loc[1, 'odd "name"'] == "two words"
    assert changes.loc[0, "amount"] == decimal.Decimal("10.50") and changes.loc[0, "day"] == dt.date(2024, 1, 2)
    assert changes.loc[0, "seen"] == pd.Timestamp("2024-01-02 10:00:00")
    assert str(changes["id"].dtype) == "Int64" and str(changes["active"].dtype) == "boolean"
    assert changes.loc[4, ["id", "name"]].tolist()[0] == 3 and pd.isna(changes.loc[4, "name"]), "a delete carries the key"

    load(engine, target, chunks)
    assert rows(engine, target) == rows(engine, source)
    assert [r[0] for r in rows(engine, target)] == [1, 3, 20]

    cdc.after_commit(cdc.watermark)
    run_sql(engine, f"insert into {source} values (4, 'Dee', 1, null, null, null, null)", f"delete from {source} where id = 1")
    newer = pd.concat(read(cdc))
    assert newer["__op__"].tolist() == ["insert", "delete"], "after advancing, only newer changes are read"
    assert newer["id"].tolist() == [4, 1]
    load(engine, target, [newer])
    assert rows(engine, target) == rows(engine, source)


def test_without_advancing_the_same_changes_are_read_again(engine: Engine, cdc: PgCdcSource, tables: tuple[str, str]) -> None:
    source, target = tables
    run_sql(engine, f"insert into {source} (id, name) values (1, 'a'), (2, 'b')", f"delete from {source} where id = 2")
    first = pd.concat(read(cdc))
    watermark = cdc.watermark
    # The run "crashed" before its commit: nothing advanced the slot.
    again = pd.concat(read(cdc))
    pd.testing.assert_frame_equal(first, again)
    assert cdc.watermark == watermark
    # Applying them twice (a replay after a crash between commit and advance) changes nothing.
    assert load(engine, target, [first]) == AppliedChanges(upserted=1, deleted=1)  # only the last change of a key counts
    load(engine, target, [again])
    assert rows(engine, target) == rows(engine, source) == [(1, "a", None, None, None, None, None)]


def test_after_commit_never_moves_the_slot_backwards(engine: Engine, cdc: PgCdcSource, tables: tuple[str, str]) -> None:
    run_sql(engine, f"insert into {tables[0]} (id) values (1)")
    read(cdc)
    first = cdc.watermark
    cdc.after_commit(first)
    run_sql(engine, f"insert into {tables[0]} (id) values (2)")
    read(cdc)
    cdc.after_commit(cdc.watermark)
    position = cdc.slot_status().confirmed_lsn  # type: ignore[union-attr]
    cdc.after_commit(first)  # a stale watermark (e.g. from the control table at start-up) is harmless
    assert cdc.slot_status().confirmed_lsn == position  # type: ignore[union-attr]
    assert read(cdc)[0].empty


def test_a_limit_inside_a_transaction_keeps_that_transaction_for_next_time(engine: Engine, cdc: PgCdcSource, tables: tuple[str, str]) -> None:
    source = tables[0]
    run_sql(engine, f"insert into {source} (id) values (1)", f"insert into {source} (id) values (2), (3), (4)")
    (part,) = read(cdc, limit=2)
    assert part["id"].tolist() == [1, 2]
    cdc.after_commit(cdc.watermark)  # the end of the first transaction only
    rest = pd.concat(read(cdc))
    assert rest["id"].tolist() == [2, 3, 4], "the cut transaction is read again whole"


def test_other_tables_are_skipped_but_passed(engine: Engine, cdc: PgCdcSource, tables: tuple[str, str], table_name: str) -> None:
    other = f"{table_name}_other"
    run_sql(engine, f"create table {other} (id int primary key)")
    try:
        run_sql(engine, f"insert into {other} values (1)", f"insert into {tables[0]} (id) values (7)", f"insert into {other} values (2)")
        (frame,) = read(cdc)
        assert frame["id"].tolist() == [7]
        cdc.after_commit(cdc.watermark)
        (frame,) = read(cdc)
        assert frame.empty and list(frame.columns)[-3:] == ["__op__", "__lsn__", "__unchanged__"]
    finally:
        run_sql(engine, f"drop table {other}")


def test_no_changes_yield_one_empty_chunk_with_the_columns(cdc: PgCdcSource) -> None:
    (frame,) = read(cdc)
    assert frame.empty
    assert list(frame.columns) == ["id", "name", "amount", "day", "active", 'odd "name"', "seen", "__op__", "__lsn__", "__unchanged__"]
    cdc.after_commit(cdc.watermark)  # None, or past other tables' transactions on this shared server: no error


def test_truncate_empties_the_target(engine: Engine, cdc: PgCdcSource, tables: tuple[str, str]) -> None:
    source, target = tables
    run_sql(engine, f"insert into {source} (id) values (1), (2)", f"truncate {source}", f"insert into {source} (id) values (3)")
    chunks = read(cdc)
    assert pd.concat(chunks)["__op__"].tolist() == ["insert", "insert", "truncate", "insert"]
    result = load(engine, target, chunks)
    assert result.truncated == 1
    assert rows(engine, target) == rows(engine, source) == [(3, None, None, None, None, None, None)]


def test_an_update_that_leaves_a_toasted_value_keeps_it_in_the_target(engine: Engine, cdc: PgCdcSource, tables: tuple[str, str]) -> None:
    source, target = tables
    # Random text does not compress, so 20 kB of it is stored out of line (TOAST).
    run_sql(engine, f"insert into {source} (id, name) select 1, string_agg(md5(random()::text), '') from generate_series(1, 600)")
    run_sql(engine, f"update {source} set amount = 5 where id = 1")
    chunks = read(cdc)
    changes = pd.concat(chunks)
    assert changes["__op__"].tolist() == ["insert", "update"]
    assert json.loads(changes["__unchanged__"].iloc[1]) == ["name"] and pd.isna(changes["name"].iloc[1])
    load(engine, target, chunks)  # both in one chunk: the update takes the value from the insert
    assert rows(engine, target) == rows(engine, source)
    cdc.after_commit(cdc.watermark)
    run_sql(engine, f"update {source} set amount = 6 where id = 1")
    (update,) = read(cdc)
    load(engine, target, [update])  # alone: the target keeps the value it has
    assert rows(engine, target) == rows(engine, source)


def test_a_delete_without_a_key_is_a_clear_error(engine: Engine, db_context: Callable[..., RunContext], postgres_url: str, slot: str, table_name: str) -> None:
    run_sql(engine, f"create table {table_name} (id int, name text)")
    try:
        source = PgCdcSource.from_spec({"connection": "db", "slot": slot, "table": table_name}, db_context(postgres_url))
        source.create_slot()  # type: ignore[attr-defined]
        run_sql(engine, f"insert into {table_name} values (1, 'a')", f"delete from {table_name}")
        with pytest.raises(DataError, match="REPLICA IDENTITY FULL"):
            read(source)  # type: ignore[arg-type]
    finally:
        run_sql(engine, f"drop table {table_name}")


def test_a_missing_slot_says_how_to_create_it(db_context: Callable[..., RunContext], postgres_url: str, tables: tuple[str, str]) -> None:
    source = PgCdcSource.from_spec({"connection": "db", "slot": "etl_no_such_slot", "table": tables[0]}, db_context(postgres_url))
    with pytest.raises(ConfigError, match="does not exist: create it with `etl-studio cdc"):
        read(source)  # type: ignore[arg-type]


def test_an_unknown_table_is_named(db_context: Callable[..., RunContext], postgres_url: str, cdc: PgCdcSource) -> None:
    source = PgCdcSource.from_spec({"connection": "db", "slot": cdc.config.slot, "table": "no_such_table"}, db_context(postgres_url))
    with pytest.raises(ConfigError, match="no table 'public.no_such_table'"):
        read(source)  # type: ignore[arg-type]


def test_slot_status_and_create_twice(engine: Engine, cdc: PgCdcSource) -> None:
    status = cdc.slot_status()
    assert status is not None and status.plugin == "test_decoding" and not status.active
    assert cdc.config.slot in status.describe()
    with pytest.raises(ConfigError, match="already exists"):
        cdc.create_slot()
    assert cdc.drop_slot() is True
    with engine.connect() as conn:
        assert slot_status(conn, cdc.config.slot) is None
    assert cdc.drop_slot(missing_ok=True) is False
    with pytest.raises(ConfigError, match="does not exist"):
        cdc.drop_slot()


def test_a_bad_slot_name_is_refused_in_the_config() -> None:
    with pytest.raises(Exception, match="lower-case letters"):
        PgCdcSource.config_model.model_validate({"connection": "db", "slot": "Bad-Name", "table": "t"})


def test_the_wal_level_message_says_how_to_enable_logical() -> None:
    assert wal_level_problem("logical") is None
    message = wal_level_problem("replica")
    assert message is not None
    assert "'replica'" in message and "ALTER SYSTEM SET wal_level = logical" in message and "restart" in message


def test_changes_apply_to_a_sqlite_target_too(engine: Engine, cdc: PgCdcSource, tables: tuple[str, str], tmp_path: Path) -> None:
    run_sql(engine, f"insert into {tables[0]} (id, name, amount) values (1, 'a', 1.5), (2, 'b', 2)", f"update {tables[0]} set name = 'c' where id = 2",
            f"delete from {tables[0]} where id = 1")
    lite = sa.create_engine(f"sqlite:///{tmp_path / 'target.db'}")
    with lite.begin() as conn:
        conn.exec_driver_sql('create table t (id integer primary key, name text, amount numeric, day date, active boolean, "odd ""name""" text, seen timestamp)')
        conn.exec_driver_sql("insert into t (id, name) values (1, 'old')")
    with lite.begin() as conn:
        table = sa.Table("t", sa.MetaData(), autoload_with=conn)
        for chunk in read(cdc, chunk_size=1):
            apply_changes(conn, table, chunk, ["id"])
    with lite.connect() as conn:
        assert [tuple(r) for r in conn.exec_driver_sql("select id, name, amount from t")] == [(2, "c", 2)]
    lite.dispose()
