"""The chunk writers store exactly what SQLAlchemy's own executemany stores: '' vs NULL, decimals, dates, datetimes, booleans."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

from etl_studio.core.connections import ConnectionPool
from etl_studio.core.project.models import Connection, Project, TargetColumn
from etl_studio.core.targets import sql_writers
from etl_studio.core.targets.arrow_types import chunk_to_arrow
from etl_studio.core.targets.sql_writers import writer_for

COLUMNS = [
    TargetColumn(name="id", type="integer", nullable=False),
    TargetColumn(name="name", type="string"),
    TargetColumn(name="price", type="decimal(12,3)"),
    TargetColumn(name="day", type="date"),
    TargetColumn(name="moment", type="datetime"),
    TargetColumn(name="flag", type="boolean"),
    TargetColumn(name="ratio", type="float"),
]


def frame(rows: int) -> pd.DataFrame:
    names = ["", None, "Zoë, \"quoted\"\nline", "plain", "%s %(x)s ?"]
    prices = [Decimal("0.001"), Decimal("-123456789.999"), None, Decimal("1.100"), Decimal("0.000")]
    days = [date(1, 1, 1), date(2024, 2, 29), None, date(9999, 12, 31), date(999, 12, 31)]
    moments = [datetime(2024, 1, 2, 3, 4, 5, 6), None, datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999), datetime(2024, 1, 1)]
    flags = [True, False, None, True, False]
    ratios = [0.1, None, -1e300, 2.5, 1 / 3]
    pick = lambda values: [values[i % len(values)] for i in range(rows)]  # noqa: E731
    return pd.DataFrame({
        "id": pd.array(range(rows), dtype="Int64"),
        "name": pd.array(pick(names), dtype="string"),
        "price": pd.Series(pick(prices), dtype=pd.ArrowDtype(pa.decimal128(12, 3))),
        "day": pd.Series(pick(days), dtype=pd.ArrowDtype(pa.date32())),
        "moment": pd.Series(pick(moments), dtype=pd.ArrowDtype(pa.timestamp("us"))),
        "flag": pd.array(pick(flags), dtype="boolean"),
        "ratio": pd.array(pick(ratios), dtype="Float64"),
    })


def table(name: str, metadata: sa.MetaData, dialect: str) -> sa.Table:
    from etl_studio.core.targets.sql_types import sql_type
    from etl_studio.core.types import parse_type

    return sa.Table(name, metadata, *[
        sa.Column(c.name, sql_type(parse_type(c.type), dialect), key=f"c{i}", primary_key=c.name == "id", autoincrement=False)
        for i, c in enumerate(COLUMNS)
    ])


@pytest.fixture(params=["sqlite", "mysql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    url = f"sqlite:///{tmp_path / 'w.db'}" if request.param == "sqlite" else request.getfixturevalue("mysql_url")
    pool = ConnectionPool(Project(connections=[Connection(name="db", url=url)]), tmp_path)  # the project's drivers
    yield pool.engine("db")
    pool.dispose()


@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_the_fast_executemany_stores_what_sqlalchemy_stores(engine: sa.Engine, table_name: str, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql_writers, "SLICE_ROWS", 7)  # several slices, the last one short
    chunk = frame(23)
    metadata = sa.MetaData()
    ours, theirs = table(table_name + "_a", metadata, engine.dialect.name), table(table_name + "_b", metadata, engine.dialect.name)
    metadata.create_all(engine)
    try:
        with engine.begin() as conn:
            writer = writer_for(conn, ours, COLUMNS, mode, ["id"])
            assert writer.write(chunk) == 23
            if mode == "upsert":
                assert writer.write(chunk.iloc[::-1]) == 23  # the second time every key exists
            reference = chunk_to_arrow(chunk, COLUMNS, field_names=[c.key for c in theirs.columns]).to_pylist()
            conn.execute(sa.insert(theirs), reference)
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            cursor = raw.cursor()
            names = ", ".join(engine.dialect.identifier_preparer.quote(c.name) for c in COLUMNS)
            results = []
            for name in (ours.name, theirs.name):
                cursor.execute(f"select {names} from {engine.dialect.identifier_preparer.quote(name)} order by id")
                results.append(list(cursor.fetchall()))
            if engine.dialect.name == "sqlite":  # the stored type too: text dates, real decimals, integer booleans
                for name in (ours.name, theirs.name):
                    kinds = ", ".join(f"typeof({engine.dialect.identifier_preparer.quote(c.name)})" for c in COLUMNS)
                    cursor.execute(f"select {kinds} from {engine.dialect.identifier_preparer.quote(name)} order by id")
                    results.append(list(cursor.fetchall()))
                assert results[2] == results[3]
            cursor.close()
        assert results[0] == results[1]
        assert len(results[0]) == 23
        by_id = {row[0]: row for row in results[0]}
        assert by_id[0][1] == "" and by_id[1][1] is None  # '' and NULL stay apart
    finally:
        metadata.drop_all(engine)


def test_a_refused_row_raises_a_database_error_as_sqlalchemy_would(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    metadata = sa.MetaData()
    target = table("t", metadata, "sqlite")
    metadata.create_all(engine)
    with engine.connect() as conn, conn.begin():
        writer = writer_for(conn, target, COLUMNS, "append", [])
        writer.write(frame(3))
        with pytest.raises(sa.exc.IntegrityError):
            writer.write(frame(3))
    engine.dispose()
