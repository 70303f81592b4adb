"""PostgreSQL tables are read with COPY ... TO STDOUT: the frames are the ones the server-side cursor gives."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pandas as pd
import pytest
import sqlalchemy as sa

from etl_studio.core.context import RunContext
from etl_studio.core.sources import sql_table
from etl_studio.core.sources.sql_table import SqlTableSource

ContextFactory = Callable[..., RunContext]
PREPARE = sql_table._PostgresCopyReader.prepare

VALUES = """
(1, 'plain', 1.10, 0.1, true, '2024-02-29', 'ab', 7),
(2, '', -123456789.999, -1e300, false, '0001-01-01', 'a ', 0),
(3, null, null, null, null, null, null, null),
(4, 'comma, "quote"' || chr(10) || 'new line', 'NaN', 'NaN', true, 'infinity', 'x', -32768),
(5, 'Zoë ünïcode \\ backslash', 0, 1.0000000000000002, false, '9999-12-31', '', 32767)
"""


@pytest.fixture
def odd(postgres_url: str, db_context: ContextFactory, table_name: str) -> Iterator[tuple[RunContext, str]]:
    context = db_context(postgres_url)
    engine = context.connections.engine("db")
    with engine.begin() as conn:
        conn.execute(sa.text(
            f'create table "{table_name}" (id bigint primary key, "na%me" text, amount numeric(12,3), ratio float8, '
            f'flag boolean, day date, code char(2), small smallint)'
        ))
        conn.execute(sa.text(f'insert into "{table_name}" values {VALUES}'))
    yield context, table_name
    with engine.begin() as conn:
        conn.execute(sa.text(f'drop table "{table_name}"'))


def read_both(context: RunContext, monkeypatch: pytest.MonkeyPatch, chunk_size: int, limit: int | None = None,
              **config: object) -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[str]]:
    used: list[str] = []
    prepare = PREPARE

    def spy(*args: object, **kwargs: object) -> object:
        reader = prepare(*args, **kwargs)  # type: ignore[arg-type]
        used.append("copy" if reader is not None else "cursor")
        return reader

    monkeypatch.setattr(sql_table._PostgresCopyReader, "prepare", spy)
    copied = list(SqlTableSource.from_spec({"connection": "db", **config}, context).read_chunks(chunk_size, limit))
    monkeypatch.setattr(sql_table._PostgresCopyReader, "prepare", lambda *a, **k: None)
    cursor = list(SqlTableSource.from_spec({"connection": "db", **config}, context).read_chunks(chunk_size, limit))
    return copied, cursor, used


def assert_same(copied: list[pd.DataFrame], cursor: list[pd.DataFrame]) -> None:
    assert [len(c) for c in copied] == [len(c) for c in cursor]
    for ours, theirs in zip(copied, cursor):
        assert list(ours.columns) == list(theirs.columns)
        assert ours.dtypes.to_dict() == theirs.dtypes.to_dict()
        assert list(ours.index) == list(theirs.index)
        for name in ours.columns:
            left = [None if pd.isna(v) and not isinstance(v, str) and not (isinstance(v, float) and v != v) else v
                    for v in ours[name].astype(object)]
            right = [None if pd.isna(v) and not isinstance(v, str) and not (isinstance(v, float) and v != v) else v
                     for v in theirs[name].astype(object)]
            assert repr(left) == repr(right), name


def test_a_table_read_by_copy_is_the_table_read_by_the_cursor(odd: tuple[RunContext, str], monkeypatch: pytest.MonkeyPatch) -> None:
    context, table = odd
    copied, cursor, used = read_both(context, monkeypatch, 2, table=table, order_by=["id"])
    assert used == ["copy"]
    assert_same(copied, cursor)
    rows = pd.concat(copied)
    assert rows.loc[1, "na%me"] == "" and pd.isna(rows.loc[2, "na%me"])  # '' and NULL stay apart
    assert rows.loc[3, "na%me"] == 'comma, "quote"\nnew line'
    assert rows.loc[0, "day"] == dt.date(2024, 2, 29)


def test_limit_columns_order_and_incremental_window_by_copy(odd: tuple[RunContext, str], monkeypatch: pytest.MonkeyPatch) -> None:
    context, table = odd
    copied, cursor, used = read_both(context, monkeypatch, 2, limit=3, table=table, columns=["small", "na%me"], order_by=["small desc"])
    assert used == ["copy"]
    assert_same(copied, cursor)
    assert len(pd.concat(copied)) == 3
    window = SimpleNamespace(column="id", lower=2, inclusive=False)
    monkeypatch.setattr(SqlTableSource, "incremental_window", window)
    copied, cursor, used = read_both(context, monkeypatch, 10, table=table, order_by=["id"])
    assert used == ["copy"]
    assert_same(copied, cursor)
    assert list(pd.concat(copied)["id"]) == [3, 4, 5]


def test_an_empty_result_still_gives_its_typed_columns_by_copy(odd: tuple[RunContext, str], monkeypatch: pytest.MonkeyPatch) -> None:
    context, table = odd
    window = SimpleNamespace(column="id", lower=100, inclusive=False)
    monkeypatch.setattr(SqlTableSource, "incremental_window", window)
    copied, cursor, used = read_both(context, monkeypatch, 10, table=table)
    assert used == ["copy"]
    assert_same(copied, cursor)
    assert len(copied) == 1 and len(copied[0]) == 0


def test_columns_copy_cannot_give_exactly_are_read_by_the_cursor(postgres_url: str, db_context: ContextFactory, table_name: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    context = db_context(postgres_url)
    engine = context.connections.engine("db")
    with engine.begin() as conn:
        conn.execute(sa.text(f'create table "{table_name}" (id int, at timestamp, doc jsonb)'))
        conn.execute(sa.text(f"""insert into "{table_name}" values (1, '2024-01-01 10:00:00.5', '{{"a": 1}}')"""))
    try:
        copied, cursor, used = read_both(context, monkeypatch, 10, table=table_name)
        assert used == ["cursor"]
        assert_same(copied, cursor)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'drop table "{table_name}"'))
