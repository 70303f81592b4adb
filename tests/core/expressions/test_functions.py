"""Each function and operator of the expression language, with SQL NULL semantics."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from etl_studio.core.expressions import ExpressionError, compile_expression


def run(text: str, df: pd.DataFrame | None = None, **params: Any) -> list[Any]:
    df = df if df is not None else pd.DataFrame({"x": [1]})
    result = compile_expression(text, df.columns, params=params).evaluate(df, params)
    assert result.errors is None, result.errors.tolist()
    return [None if v is pd.NA or v is pd.NaT else v for v in result.values.tolist()]


def one(text: str, **params: Any) -> Any:
    return run(text, **params)[0]


PEOPLE = pd.DataFrame(
    {
        "email": pd.Series([" Ann@Example.com ", None, "bob@x.org"], dtype="string"),
        "qty": pd.Series([3, None, -7], dtype="Int64"),
        "price": pd.Series(["1.50", "2.25", None], dtype=object),
        "d": pd.Series(pd.to_datetime(["2024-01-31", None, "2024-12-25"])),
    }
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2", 3),
        ("5 - 7", -2),
        ("6 * 7", 42),
        ("7 / 2", 3),
        ("-7 / 2", -3),
        ("7 % 3", 1),
        ("-7 % 3", -1),
        ("-(2 + 3)", -5),
        ("1.5 + 1", Decimal("2.5")),
        ("0.1 + 0.2", Decimal("0.3")),
        ("10 / 4.0", Decimal("2.5")),
        ("1 = 1", True),
        ("1 <> 1", False),
        ("1 != 2", True),
        ("1 < 2", True),
        ("2 <= 2", True),
        ("3 > 4", False),
        ("3 >= 4", False),
        ("'b' > 'a'", True),
        ("2 IN (1, 2)", True),
        ("2 NOT IN (1, 3)", True),
        ("2 BETWEEN 1 AND 3", True),
        ("5 NOT BETWEEN 1 AND 3", True),
        ("lower('AbC')", "abc"),
        ("upper('AbC')", "ABC"),
        ("trim('  a b  ')", "a b"),
        ("ltrim('  a  ')", "a  "),
        ("rtrim('  a  ')", "  a"),
        ("length('héllo')", 5),
        ("substring('hello', 2, 3)", "ell"),
        ("substring('hello', 2)", "ello"),
        ("substr('hello', 0, 2)", "h"),
        ("replace('a-b-c', '-', '+')", "a+b+c"),
        ("'a' || 'b' || 1", "ab1"),
        ("concat('a', NULL, 2, 'c')", "a2c"),
        ("round(2.5)", Decimal("3")),
        ("round(-2.5)", Decimal("-3")),
        ("round(1.005, 2)", Decimal("1.01")),
        ("round(1234, -2)", 1200),
        ("abs(-4.5)", Decimal("4.5")),
        ("floor(-2.5)", Decimal("-3")),
        ("ceil(2.1)", Decimal("3")),
        ("ceiling(2.1)", Decimal("3")),
        ("regexp_like('abc123', '[0-9]+$')", True),
        ("regexp_replace('a1b22', '[0-9]', '#')", "a#b##"),
        ("coalesce(NULL, NULL, 'z')", "z"),
        ("nullif(1, 1)", None),
        ("nullif(1, 2)", 1),
        ("CASE WHEN 1 > 2 THEN 'a' WHEN 2 > 1 THEN 'b' ELSE 'c' END", "b"),
        ("CASE 2 WHEN 1 THEN 'one' WHEN 2 THEN 'two' END", "two"),
        ("CASE WHEN FALSE THEN 1 END", None),
        ("CAST('42' AS integer)", 42),
        ("'42'::bigint + 1", 43),
        ("CAST(2.5 AS int)", 3),
        ("CAST('1.234' AS numeric(10,2))", Decimal("1.23")),
        ("CAST('1.235' AS decimal(10,2))", Decimal("1.24")),
        ("CAST(1 AS text)", "1"),
        ("CAST(1.50 AS varchar)", "1.50"),
        ("CAST('0.5' AS float)", 0.5),
        ("CAST('0.5' AS double precision) * 2", 1.0),
        ("CAST('yes' AS boolean)", True),
        ("CAST('2024-02-29' AS date)", dt.date(2024, 2, 29)),
        ("CAST('2024-02-29 10:30:00' AS timestamp)", pd.Timestamp("2024-02-29 10:30")),
        ("year(CAST('2024-02-29' AS date))", 2024),
        ("month(CAST('2024-02-29' AS date))", 2),
        ("day(CAST('2024-02-29' AS date))", 29),
        ("extract(year from CAST('2024-02-29' AS date))", 2024),
        ("extract(hour from CAST('2024-02-29 10:30:00' AS timestamp))", 10),
        ("CAST('2024-02-28' AS date) + 2", dt.date(2024, 3, 1)),
        ("CAST('2024-03-01' AS date) - 1", dt.date(2024, 2, 29)),
        ("CAST('2024-03-01' AS date) - CAST('2024-02-01' AS date)", 29),
        ("CAST('2024-01-31' AS date) + interval '1 day'", pd.Timestamp("2024-02-01")),
        ("CAST('2024-01-31' AS date) + interval '1 month'", pd.Timestamp("2024-02-29")),
        ("CAST('2024-01-31 10:00:00' AS timestamp) - interval '2 hours'", pd.Timestamp("2024-01-31 08:00")),
        ("TRUE", True),
        ("NOT FALSE", True),
        ("NULL IS NULL", True),
        ("1 IS NOT NULL", True),
    ],
)
def test_each_function_and_operator_gives_what_postgres_gives(text: str, expected: Any) -> None:
    assert one(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NULL AND FALSE", False),
        ("NULL AND TRUE", None),
        ("NULL OR TRUE", True),
        ("NULL OR FALSE", None),
        ("NOT NULL", None),
        ("NULL = NULL", None),
        ("1 + NULL", None),
        ("lower(NULL)", None),
        ("'a' || NULL", None),
        ("concat(NULL, NULL)", ""),
        ("1 IN (2, NULL)", None),
        ("1 IN (1, NULL)", True),
        ("NULL BETWEEN 1 AND 2", None),
        ("CASE WHEN NULL THEN 1 ELSE 2 END", 2),
        ("coalesce(NULL, 1)", 1),
    ],
)
def test_null_follows_sql_three_valued_logic(text: str, expected: Any) -> None:
    assert one(text) == expected


def test_trim_removes_spaces_only_as_postgres_does() -> None:
    df = pd.DataFrame({"s": ["\ta  "]})
    assert run("trim(s)", df) == ["\ta"]


def test_columns_keep_nulls_and_the_index() -> None:
    df = PEOPLE.set_axis([10, 20, 30])
    result = compile_expression("lower(trim(email))", df.columns).evaluate(df)
    assert result.values.index.tolist() == [10, 20, 30]
    assert result.values.tolist()[0] == "ann@example.com"
    assert result.values.isna().tolist() == [False, True, False]
    assert result.errors is None


def test_results_use_nullable_dtypes_never_nan() -> None:
    values = compile_expression("qty * 2", PEOPLE.columns).evaluate(PEOPLE).values
    assert str(values.dtype) == "Int64"
    assert values.isna().tolist() == [False, True, False]
    floats = pd.DataFrame({"f": [1.5, np.nan]})
    out = compile_expression("f + 1", floats.columns).evaluate(floats).values
    assert str(out.dtype) == "Float64" and out.tolist()[1] is pd.NA


def test_text_numbers_in_arithmetic_become_exact_decimals() -> None:
    values = run("qty * price", PEOPLE)
    assert values == [Decimal("4.50"), None, None]


def test_date_parts_on_a_datetime_column() -> None:
    assert run("year(d)", PEOPLE) == [2024, None, 2024]
    assert run("extract(month from d)", PEOPLE) == [1, None, 12]
    with pytest.raises(ExpressionError, match="timestamp"):
        run("d + 1", PEOPLE)  # PostgreSQL refuses timestamp + integer too


def test_current_date_and_now() -> None:
    today = dt.date.today()
    assert one("current_date") in (today, today + dt.timedelta(days=1))
    stamp = one("now()")
    assert abs(pd.Timestamp(stamp) - pd.Timestamp.now()) < pd.Timedelta(minutes=1)
    assert one("current_timestamp >= now() - interval '1 minute'") is True


def test_parameters_are_written_with_a_colon() -> None:
    df = pd.DataFrame({"order_date": ["2024-01-02", "2023-12-31"]})
    values = run("CAST(order_date AS date) >= :window_start", df, window_start=dt.date(2024, 1, 1))
    assert values == [True, False]
    assert run("order_date >= :window_start", df, window_start=dt.date(2024, 1, 1)) == [True, False]


def test_identifiers_match_exactly_then_ignoring_case_and_may_be_quoted() -> None:
    df = pd.DataFrame({"Order Date": ["2024-01-02"], "Qty": [2], "qty": [3]})
    assert run('"Order Date"', df) == ["2024-01-02"]
    assert run("qty", df) == [3]
    assert run("Qty", df) == [2]
    df2 = pd.DataFrame({"Amount": [5]})
    assert run("amount + 1", df2) == [6]


def test_case_evaluates_a_branch_only_on_its_own_rows() -> None:
    df = pd.DataFrame({"a": [10, 5], "b": [0, 5]})
    result = compile_expression("CASE WHEN b = 0 THEN NULL ELSE a / b END", df.columns).evaluate(df)
    assert result.errors is None
    assert result.values.tolist() == [pd.NA, 1]


def test_and_does_not_evaluate_the_right_side_where_the_left_is_false() -> None:
    df = pd.DataFrame({"a": [10, 6], "b": [0, 2]})
    result = compile_expression("b <> 0 AND a / b > 2", df.columns).evaluate(df)
    assert result.errors is None
    assert result.values.tolist() == [False, True]


def test_coalesce_mixing_int_and_decimal_gives_a_decimal() -> None:
    df = pd.DataFrame({"a": pd.Series([None, 2], dtype="Int64")})
    assert run("coalesce(a, 1.5)", df) == [Decimal("1.5"), Decimal("2.0")]


def test_empty_frame_evaluates_to_empty_result() -> None:
    df = pd.DataFrame({"a": pd.Series([], dtype="string")})
    result = compile_expression("round(CAST(a AS numeric) * 1.5, 2) || 'x'", df.columns).evaluate(df)
    assert len(result.values) == 0 and result.errors is None


def test_interval_parts_and_month_ends() -> None:
    assert one("CAST('2024-01-01' AS date) + interval '1 week'") == pd.Timestamp("2024-01-08")
    assert one("CAST('2024-01-01 00:00:00' AS timestamp) + interval '2 hours 30 minutes'") == pd.Timestamp("2024-01-01 02:30")
