"""Partition-aware loading into PostgreSQL declarative partitions: missing monthly partitions are created in the load."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from etl_studio.core.project.models import TargetColumn

from .conftest import COLUMNS, Db, cleanup, make_db

DAY = [*COLUMNS, TargetColumn(name="day", type="date", nullable=False)]


@pytest.fixture
def pg(postgres_url: str, tmp_path: Path) -> Iterator[Db]:
    handle, pool = make_db(postgres_url, tmp_path)
    yield handle
    cleanup(handle)
    pool.dispose()


def rows(*items: tuple[int, str, date]) -> pd.DataFrame:
    return pd.DataFrame({"id": pd.array([i[0] for i in items], dtype="Int64"), "name": [i[1] for i in items],
                         "city": [None] * len(items), "day": [i[2] for i in items]})


def partitions(db: Db, table: str) -> list[str]:
    with db.engine.connect() as conn:
        return sorted(conn.execute(sa.text(
            "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = to_regclass(:t)"
        ), {"t": table}).scalars())


def test_missing_monthly_partitions_are_created_and_rows_land_in_them(pg: Db, table_name: str) -> None:
    target = pg.target(table_name, mode="upsert", keys=["id", "day"], partition_column="day")
    pg.load(target, rows((1, "a", date(2024, 1, 5)), (2, "b", date(2024, 1, 31))), columns=DAY)
    assert partitions(pg, table_name) == [f"{table_name}_p2024_01"]
    pg.load(target, rows((3, "c", date(2024, 2, 1)), (1, "A", date(2024, 1, 5))), columns=DAY)
    assert partitions(pg, table_name) == [f"{table_name}_p2024_01", f"{table_name}_p2024_02"]
    assert pg.rows(table_name, "id", columns=["id", "name", "day"]) == [
        (1, "A", date(2024, 1, 5)), (2, "b", date(2024, 1, 31)), (3, "c", date(2024, 2, 1))
    ]


def test_a_rolled_back_load_leaves_no_new_partition(pg: Db, table_name: str) -> None:
    target = pg.target(table_name, partition_column="day", partition_interval="year")
    pg.load(target, rows((1, "a", date(2023, 3, 1))), columns=DAY)
    session = target.open(DAY, pg.run_id())
    session.write(rows((2, "b", date(2024, 3, 1))))
    plan = session.plan()
    session.rollback()
    assert any(f"{table_name}_p2024" in note for note in plan.notes)
    assert partitions(pg, table_name) == [f"{table_name}_p2023"]
    assert pg.rows(table_name, columns=["id"]) == [(1,)]


def test_an_existing_partition_with_another_name_is_used(pg: Db, table_name: str) -> None:
    with pg.engine.begin() as conn:
        q = pg.engine.dialect.identifier_preparer.quote
        conn.exec_driver_sql("CREATE TABLE " + q(table_name) + " (id bigint, name text, city text, day date not null) PARTITION BY RANGE (day)")
        conn.exec_driver_sql("CREATE TABLE " + q(table_name + "_q1") + " PARTITION OF " + q(table_name) + " FOR VALUES FROM ('2024-01-01') TO ('2024-04-01')")
    pg.drop.append(table_name)
    target = pg.target(table_name, partition_column="day")
    pg.load(target, rows((1, "a", date(2024, 2, 2)), (2, "b", date(2024, 5, 2))), columns=DAY)
    assert partitions(pg, table_name) == [f"{table_name}_p2024_05", f"{table_name}_q1"]
    assert pg.rows(table_name, "id", columns=["id"]) == [(1,), (2,)]
