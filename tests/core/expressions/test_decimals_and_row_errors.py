"""Numbers come out as PostgreSQL's numeric computes them, and bad cells become row errors, never silent NULLs."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pyarrow as pa

from etl_studio.core.expressions import compile_expression


def test_decimal_arithmetic_is_exact_like_postgres_numeric() -> None:
    df = pd.DataFrame({"quantity": ["17"], "unit_price": ["459.90"]})
    result = compile_expression("round(quantity * unit_price * 0.95, 2)", df.columns).evaluate(df)
    assert result.values.tolist() == [Decimal("7427.39")]  # float64 gives 7427.38
    assert isinstance(result.values.dtype, pd.ArrowDtype)
    assert pa.types.is_decimal(result.values.dtype.pyarrow_dtype)


def test_decimal_scales_follow_multiplication() -> None:
    df = pd.DataFrame({"a": pd.Series([Decimal("1.25")], dtype=pd.ArrowDtype(pa.decimal128(10, 2)))})
    values = compile_expression("a * a", df.columns).evaluate(df).values
    assert values.dtype.pyarrow_dtype.scale == 4
    assert values.tolist() == [Decimal("1.5625")]


def test_a_literal_with_a_decimal_point_is_a_decimal_not_a_float() -> None:
    df = pd.DataFrame({"x": [3]})
    values = compile_expression("x * 0.1", df.columns).evaluate(df).values
    assert values.tolist() == [Decimal("0.3")]


def test_float_only_when_asked_for() -> None:
    df = pd.DataFrame({"x": ["0.1"]})
    values = compile_expression("CAST(x AS float) * 3", df.columns).evaluate(df).values
    assert str(values.dtype) == "Float64"


def test_large_decimal_products_do_not_overflow_arrow_precision() -> None:
    df = pd.DataFrame({"a": pd.Series([Decimal("1.5")], dtype=pd.ArrowDtype(pa.decimal128(38, 10)))})
    values = compile_expression("a * a * a * 2", df.columns).evaluate(df).values
    assert values.tolist()[0] == Decimal("6.75")


def test_text_that_is_not_a_number_is_a_row_error_not_a_silent_null() -> None:
    df = pd.DataFrame({"quantity": ["2", "abc", "", None]}, index=[7, 8, 9, 10])
    result = compile_expression("quantity * 2", df.columns).evaluate(df)
    assert result.values.tolist() == [4, pd.NA, pd.NA, pd.NA]
    assert result.errors is not None
    assert result.errors.index.tolist() == [7, 8, 9, 10]
    assert result.errors.tolist() == [None, "cannot read 'abc' in quantity as a number", None, None]


def test_division_by_zero_is_a_row_error_not_infinity() -> None:
    df = pd.DataFrame({"a": [1.0, 2.0], "b": [0, 4], "c": ["1.5", "3"]})
    for text in ("a / b", "c / b", "1 / b", "b % 0"):
        result = compile_expression(text, df.columns).evaluate(df)
        assert result.errors is not None and result.errors.tolist()[0] == "division by zero", text
        assert result.values.isna().tolist()[0]


def test_integer_overflow_is_a_row_error() -> None:
    df = pd.DataFrame({"a": [2**62, 3]})
    result = compile_expression("a * 4", df.columns).evaluate(df)
    assert result.values.tolist() == [pd.NA, 12]
    assert result.errors.tolist() == ["integer out of range", None]


def test_cast_overflow_is_a_row_error() -> None:
    df = pd.DataFrame({"a": ["123456.789", "1.5"]})
    result = compile_expression("CAST(a AS numeric(5,2))", df.columns).evaluate(df)
    assert result.values.tolist() == [pd.NA, Decimal("1.50")]
    assert result.errors.tolist()[0] == "123456.789 does not fit numeric(5,2)"


def test_bad_dates_in_text_are_row_errors() -> None:
    df = pd.DataFrame({"d": ["2024-02-30", "2024-02-29"]})
    result = compile_expression("year(d)", df.columns).evaluate(df)
    assert result.values.tolist() == [pd.NA, 2024]
    assert "cannot read '2024-02-30' in d as a" in result.errors.tolist()[0]


def test_first_error_of_a_row_is_kept() -> None:
    df = pd.DataFrame({"a": ["x"], "b": ["y"]})
    result = compile_expression("a + b", df.columns).evaluate(df)
    assert result.errors.tolist() == ["cannot read 'x' in a as a number"]
