"""Type mapping for loaders: DataType -> SQL column type per dialect, existing-column checks, chunk -> Arrow."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from etl_studio.core.errors import DataError
from etl_studio.core.project.models import TargetColumn
from etl_studio.core.targets.arrow_types import chunk_to_arrow
from etl_studio.core.targets.sql_types import describe_sql_type, sql_type, type_family, type_fits
from etl_studio.core.types import parse_type

DIALECTS = {"postgresql": postgresql.dialect(), "mysql": mysql.dialect(), "sqlite": sqlite.dialect()}


def ddl(type_name: str, dialect: str, key: bool = False) -> str:
    return str(sql_type(parse_type(type_name), dialect, key=key).compile(dialect=DIALECTS[dialect]))


@pytest.mark.parametrize(
    ("type_name", "expected"),
    [
        ("string", {"postgresql": "TEXT", "mysql": "LONGTEXT", "sqlite": "TEXT"}),
        ("integer", {"postgresql": "BIGINT", "mysql": "BIGINT", "sqlite": "BIGINT"}),
        ("decimal(10,2)", {"postgresql": "NUMERIC(10, 2)", "mysql": "NUMERIC(10, 2)", "sqlite": "NUMERIC(10, 2)"}),
        ("float", {"postgresql": "DOUBLE PRECISION", "mysql": "DOUBLE", "sqlite": "DOUBLE"}),
        ("boolean", {"postgresql": "BOOLEAN", "mysql": "BOOL", "sqlite": "BOOLEAN"}),
        ("date", {"postgresql": "DATE", "mysql": "DATE", "sqlite": "DATE"}),
        ("datetime", {"postgresql": "TIMESTAMP WITHOUT TIME ZONE", "mysql": "DATETIME(6)", "sqlite": "DATETIME"}),
    ],
)
def test_column_types_per_dialect(type_name: str, expected: dict[str, str]) -> None:
    assert {dialect: ddl(type_name, dialect) for dialect in DIALECTS} == expected


def test_string_keys_on_mysql_have_a_length() -> None:
    assert ddl("string", "mysql", key=True) == "VARCHAR(255)"
    assert ddl("string", "postgresql", key=True) == "TEXT"


@pytest.mark.parametrize(
    ("type_", "family"),
    [
        (sa.Text(), "string"),
        (sa.String(20), "string"),
        (mysql.TINYINT(display_width=1), "boolean"),
        (mysql.TINYINT(), "integer"),
        (sa.Integer(), "integer"),
        (sa.Numeric(10, 2), "decimal"),
        (postgresql.DOUBLE_PRECISION(), "float"),
        (sa.Float(), "float"),
        (sa.Date(), "date"),
        (postgresql.TIMESTAMP(), "datetime"),
        (sa.types.NullType(), None),
    ],
)
def test_type_family(type_: sa.types.TypeEngine[object], family: str | None) -> None:
    assert type_family(type_) == family


def test_decimal_fits_only_when_nothing_is_rounded_or_cut() -> None:
    wanted = parse_type("decimal(10,2)")
    assert type_fits(wanted, sa.Numeric(10, 2))
    assert type_fits(wanted, sa.Numeric(12, 4))
    assert type_fits(wanted, sa.Numeric())  # unconstrained numeric
    assert not type_fits(wanted, sa.Numeric(10, 1))  # would round
    assert not type_fits(wanted, sa.Numeric(9, 2))  # would overflow
    assert not type_fits(wanted, sa.Float())
    assert not type_fits(parse_type("integer"), sa.Text())


def test_describe_sql_type_speaks_the_dialect() -> None:
    assert describe_sql_type(sa.Numeric(10, 2), DIALECTS["postgresql"]) == "NUMERIC(10, 2)"
    assert describe_sql_type(sa.types.NullType(), DIALECTS["sqlite"]) == "an unknown type"


def test_chunk_to_arrow_uses_mapping_types_and_order() -> None:
    columns = [
        TargetColumn(name="amount", type="decimal(10,2)"),
        TargetColumn(name="id", type="integer"),
        TargetColumn(name="at", type="datetime"),
        TargetColumn(name="day", type="date"),
        TargetColumn(name="code", type="string"),
    ]
    chunk = pd.DataFrame(
        {
            "id": pd.array([1, None], dtype="Int64"),
            "amount": pd.array([7, None], dtype="Int64"),  # integers into a decimal column
            "at": pd.to_datetime(["2024-01-01 00:00:00.123456789", None]),  # nanoseconds are cut
            "day": [date(2024, 1, 1), None],
            "code": ["01", None],
            "ignored": [1, 2],
        }
    )
    table = chunk_to_arrow(chunk, columns)
    assert table.column_names == ["amount", "id", "at", "day", "code"]
    assert table.schema.field("amount").type == pa.decimal128(10, 2)
    assert table.column("amount").to_pylist() == [Decimal("7.00"), None]
    assert table.column("at").to_pylist() == [datetime(2024, 1, 1, 0, 0, 0, 123456), None]
    assert table.column("code").to_pylist() == ["01", None]


def test_chunk_to_arrow_names_the_bad_column() -> None:
    with pytest.raises(DataError, match="column amount"):
        chunk_to_arrow(pd.DataFrame({"amount": ["abc"]}), [TargetColumn(name="amount", type="decimal(10,2)")])
    with pytest.raises(DataError, match="no column missing"):
        chunk_to_arrow(pd.DataFrame({"a": [1]}), [TargetColumn(name="missing", type="integer")])
