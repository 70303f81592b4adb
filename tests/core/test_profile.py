"""Column profiles an analyst reads in the preview: type, nulls, distinct, min/max, top values, histogram."""

from __future__ import annotations

import datetime as dt
import decimal

import pandas as pd

from etl_studio.core.engine.profile import profile_column


def test_text_amounts_from_a_csv_are_profiled_as_numbers():
    series = pd.Series(["10.50", "3", None, "250", "3"], dtype="str")
    profile = profile_column(series)
    assert profile.type == "string"
    assert profile.rows == 5
    assert profile.null_fraction == 0.2
    assert profile.distinct == 3
    assert (profile.min, profile.max) == (3.0, 250.0)
    assert profile.top_values[0] == ("3", 2)
    assert sum(count for _, count in profile.histogram) == 4
    assert profile.histogram_kind == "ranges"


def test_small_integer_range_gets_one_bar_per_value():
    profile = profile_column(pd.Series([1, 2, 2, 3, None], dtype="Int64"))
    assert profile.type == "integer"
    assert (profile.min, profile.max) == (1, 3)
    assert isinstance(profile.min, int)
    assert profile.histogram == [("1", 1), ("2", 2), ("3", 1)]


def test_wide_float_range_is_binned_into_ten():
    profile = profile_column(pd.Series([float(i) for i in range(1000)]))
    assert profile.type == "float"
    assert len(profile.histogram) == 10
    assert sum(c for _, c in profile.histogram) == 1000


def test_text_column_shows_most_frequent_values():
    series = pd.Series(["DE", "FR", "DE", "IT", None, "DE"])
    profile = profile_column(series)
    assert profile.type == "string"
    assert profile.top_values[:2] == [("DE", 3), ("FR", 1)]
    assert profile.histogram_kind == "values"
    assert (profile.min, profile.max) == ("DE", "IT")


def test_decimal_and_dates():
    amounts = profile_column(pd.Series([decimal.Decimal("1.10"), decimal.Decimal("7427.39"), None], dtype=object))
    assert amounts.type == "decimal"
    assert amounts.max == decimal.Decimal("7427.39") and str(amounts.min) == "1.10"
    days = profile_column(pd.Series(pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-03"])))
    assert days.type == "datetime"
    assert days.histogram == [("2024-01-01", 1), ("2024-01-03", 2)]
    spread = profile_column(pd.Series(pd.to_datetime(["2020-01-01", "2024-06-30"])))
    assert len(spread.histogram) == 10
    assert spread.min == pd.Timestamp("2020-01-01")
    dates = profile_column(pd.Series([dt.date(2024, 1, 1), dt.date(2024, 2, 1)], dtype=object))
    assert dates.type == "date" and dates.min == dt.date(2024, 1, 1)


def test_empty_and_all_null_columns_do_not_fail():
    assert profile_column(pd.Series([], dtype=object)).rows == 0
    nulls = profile_column(pd.Series([None, None]))
    assert nulls.null_fraction == 1.0 and nulls.distinct == 0 and nulls.histogram == []


def test_all_different_texts_get_a_histogram_of_lengths():
    profile = profile_column(pd.Series(["ab", "abcd", "abcdef", "x"]))
    assert profile.histogram_kind == "lengths"
    assert sum(c for _, c in profile.histogram) == 4
