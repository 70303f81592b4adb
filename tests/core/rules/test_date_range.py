"""The date_range rule: absolute and relative limits, fixed once per run."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from pydantic import ValidationError

from etl_studio.core.errors import ConfigError
from etl_studio.core.rules.date_range import DateRange, DateRangeConfig, resolve_date


def make(ctx, **config) -> DateRange:
    return DateRange.from_spec({"column": "day", **config}, ctx)


def test_relative_dates():
    today = dt.date(2024, 3, 10)
    assert resolve_date("today", today) == today
    assert resolve_date("today-30d", today) == dt.date(2024, 2, 9)
    assert resolve_date("TODAY + 1d", today) == dt.date(2024, 3, 11)
    assert resolve_date("today-2w", today) == dt.date(2024, 2, 25)
    assert resolve_date("2024-01-31", today) == dt.date(2024, 1, 31)


def test_iso_text_dates_inclusive_by_day(ctx, text_frame):
    rule = make(ctx, min="2024-01-01", max="2024-12-31")
    out = rule.check(text_frame({"day": ["2023-12-31", "2024-01-01", "2024-12-31T23:59:00", "2025-01-01", "31/12/2024", None]}))
    assert out.tolist() == [
        "2023-12-31 is before the earliest date 2024-01-01",
        None,
        None,
        "2025-01-01 is after the latest date 2024-12-31",
        "'31/12/2024' is not a date",
        None,
    ]


def test_no_future_dates_with_datetime_columns_across_chunks(ctx):
    rule = make(ctx, max="today")
    today = dt.date.today()
    tomorrow = pd.Timestamp(today) + pd.Timedelta(days=1)
    a = rule.check(pd.DataFrame({"day": [pd.Timestamp(today) + pd.Timedelta(hours=23), pd.NaT]}, index=[0, 1]))
    b = rule.check(pd.DataFrame({"day": [tomorrow]}, index=[2]))
    assert a.isna().all()
    assert b.tolist() == [f"{tomorrow.date().isoformat()} is after the latest date {today.isoformat()}"]


def test_date_objects_and_time_zones(ctx):
    rule = make(ctx, min="2024-01-01")
    assert rule.check(pd.DataFrame({"day": [dt.date(2023, 5, 1), None]})).tolist()[0].startswith("2023-05-01 is before")
    aware = pd.DataFrame({"day": pd.to_datetime(["2024-01-01 00:30"]).tz_localize("Europe/Berlin")})
    assert rule.check(aware).isna().all()


def test_to_sql_uses_the_dates_resolved_for_the_run(ctx):
    sql = make(ctx, min="2024-01-01").to_sql("postgres")
    assert sql == "\"day\" IS NULL OR (CAST(\"day\" AS DATE) >= CAST('2024-01-01' AS DATE))"


def test_unknown_column(ctx, text_frame):
    with pytest.raises(ConfigError, match="unknown column 'day' in rule date_range"):
        make(ctx, min="today").check(text_frame({"date": ["2024-01-01"]}))


def test_bad_configs():
    with pytest.raises(ValidationError, match="'yesterday' is not a date: use YYYY-MM-DD, 'today', or 'today-30d'"):
        DateRangeConfig(column="a", min="yesterday")
    with pytest.raises(ValidationError, match="give a min, a max or both"):
        DateRangeConfig(column="a")
    with pytest.raises(ValidationError, match="is after max"):
        DateRangeConfig(column="a", min="today", max="today-1d")


def test_empty_frame(ctx, text_frame):
    assert len(make(ctx, min="today").check(text_frame({"day": []}))) == 0
