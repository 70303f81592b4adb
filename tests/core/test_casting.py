"""The mapping casts each target column to its declared type; every cell that cannot be cast says why."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from etl_studio.core.casting import CastResult, cast_series, pandas_dtype
from etl_studio.core.types import DataType, parse_type


def cast(values: list[object], type_text: str, dtype: object = object) -> CastResult:
    return cast_series(pd.Series(values, dtype=dtype), parse_type(type_text), column="c")


def test_pandas_dtype_per_target_type() -> None:
    assert pandas_dtype(DataType("string")) == pd.StringDtype()
    assert pandas_dtype(DataType("integer")) == pd.Int64Dtype()
    assert pandas_dtype(parse_type("decimal(10,2)")) == pd.ArrowDtype(pa.decimal128(10, 2))
    assert pandas_dtype(DataType("float")) == pd.Float64Dtype()
    assert pandas_dtype(DataType("boolean")) == pd.BooleanDtype()
    assert pandas_dtype(DataType("date")) == pd.ArrowDtype(pa.date32())
    assert pandas_dtype(DataType("datetime")) == np.dtype("datetime64[us]")


def test_text_to_decimal_rounds_once_half_away_from_zero() -> None:
    result = cast(["1.005", "-2.675", " 3 ", "0.125", "-0.125"], "decimal(10,2)")
    assert result.values.tolist() == [Decimal("1.01"), Decimal("-2.68"), Decimal("3.00"), Decimal("0.13"), Decimal("-0.13")]
    assert result.values.dtype == pd.ArrowDtype(pa.decimal128(10, 2))
    assert result.errors is None


def test_decimal_errors_name_the_value_and_the_type() -> None:
    result = cast(["12,5x", "123456789.123", "1.5"], "decimal(5,2)")
    assert result.values.isna().tolist() == [True, True, False]
    assert result.errors.tolist() == ["'12,5x' is not a decimal(5,2)", "123456789.123 does not fit decimal(5,2)", None]


def test_rounding_up_into_overflow_is_an_error() -> None:
    result = cast(["999.995"], "decimal(5,2)")
    assert result.errors.tolist() == ["999.995 does not fit decimal(5,2)"]


def test_null_is_not_an_error_and_empty_text_is_null_for_non_string_types() -> None:
    for type_text in ("integer", "decimal(10,2)", "float", "boolean", "date", "datetime"):
        result = cast([None, "", "  "], type_text)
        assert result.values.isna().all(), type_text
        assert result.errors is None, type_text


def test_empty_text_stays_empty_for_string() -> None:
    result = cast(["", None, "a"], "string")
    assert result.values.tolist() == ["", pd.NA, "a"]
    assert result.values.dtype == pd.StringDtype()


def test_integers_from_text() -> None:
    result = cast(["01", "1.0", "1.5", "-7", "x", "99999999999999999999"], "integer")
    assert result.values.tolist() == [1, 1, pd.NA, -7, pd.NA, pd.NA]
    assert result.errors.tolist() == [None, None, "'1.5' is not an integer", None, "'x' is not an integer", "'99999999999999999999' is not an integer"]
    assert result.values.dtype == pd.Int64Dtype()


def test_integers_from_floats_and_decimals() -> None:
    assert cast([1.0, np.nan, 2.5], "integer", float).values.tolist() == [1, pd.NA, pd.NA]
    decimals = pd.Series([Decimal("3.00"), None], dtype=pd.ArrowDtype(pa.decimal128(5, 2)))
    assert cast_series(decimals, DataType("integer")).values.tolist() == [3, pd.NA]


def test_booleans_from_words() -> None:
    words = ["true", "FALSE", "t", "F", "yes", "No", "y", "n", "1", "0", "maybe"]
    result = cast(words, "boolean")
    assert result.values.tolist() == [True, False, True, False, True, False, True, False, True, False, pd.NA]
    assert result.errors.tolist()[-1] == "'maybe' is not a boolean"


def test_dates_from_iso_text_and_from_datetimes() -> None:
    result = cast(["2024-02-29", "2023-02-29", "31/12/2024"], "date")
    assert result.values.tolist()[0] == dt.date(2024, 2, 29)
    assert result.errors.tolist() == [None, "'2023-02-29' is not a date", "'31/12/2024' is not a date"]
    stamps = pd.Series(pd.to_datetime(["2024-01-02 13:45", None]))
    assert cast_series(stamps, DataType("date")).values.tolist() == [dt.date(2024, 1, 2), pd.NA]


def test_datetimes_from_iso_text() -> None:
    result = cast(["2024-01-02T03:04:05", "2024-01-02 03:04", "2024-01-02", "soon"], "datetime")
    assert result.values.tolist()[:3] == [pd.Timestamp("2024-01-02 03:04:05"), pd.Timestamp("2024-01-02 03:04"), pd.Timestamp("2024-01-02")]
    assert result.values.dtype == np.dtype("datetime64[us]")
    assert result.errors.tolist()[3] == "'soon' is not a datetime"


def test_strings_from_numbers_have_no_float_artefacts() -> None:
    assert cast([1, 2, None], "string", "Int64").values.tolist() == ["1", "2", pd.NA]
    assert cast([1.0, 0.1, 2.5], "string", float).values.tolist() == ["1", "0.1", "2.5"]
    decimals = pd.Series([Decimal("1.50")], dtype=pd.ArrowDtype(pa.decimal128(5, 2)))
    assert cast_series(decimals, DataType("string")).values.tolist() == ["1.50"]
    assert cast([True, False], "string", "boolean").values.tolist() == ["true", "false"]
    assert cast([Decimal("2.50"), 3, "x"], "string").values.tolist() == ["2.50", "3", "x"]


def test_floats_from_text() -> None:
    result = cast(["1.5", "1e3", "abc"], "float")
    assert result.values.tolist() == [1.5, 1000.0, pd.NA]
    assert result.errors.tolist()[2] == "'abc' is not a float"


def test_already_correct_dtypes_pass_through() -> None:
    s = pd.Series([1, None], dtype="Int64")
    assert cast_series(s, DataType("integer")).values is s


def test_index_is_kept() -> None:
    s = pd.Series(["1", "x"], index=[10, 20])
    result = cast_series(s, DataType("integer"))
    assert result.values.index.tolist() == [10, 20]
    assert result.errors.index.tolist() == [10, 20]


@pytest.mark.parametrize("type_text", ["decimal(12,2)", "integer"])
def test_a_million_text_values_cast_fast(type_text: str) -> None:
    numbers = np.random.default_rng(1).integers(0, 10**6, 10**6).astype(str)
    texts = pd.Series(np.char.add(numbers, ".25") if type_text.startswith("decimal") else numbers, dtype=object)
    started = time.perf_counter()
    result = cast_series(texts, parse_type(type_text))
    elapsed = time.perf_counter() - started
    assert result.errors is None
    assert elapsed < 2.0, elapsed
