"""The range rule: exact numeric limits, text numbers from CSV read exactly."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from etl_studio.core.errors import ConfigError
from etl_studio.core.rules.range import Range, RangeConfig


def make(ctx, **config) -> Range:
    return Range.from_spec({"column": "qty", **config}, ctx)


def test_text_numbers_below_above_and_not_numbers(ctx, text_frame):
    rule = make(ctx, min=0, max=100)
    out = rule.check(text_frame({"qty": ["-5", "0", "100", "100.0000000000000000001", "abc", None, " 7 "]}))
    assert out.tolist() == [
        "-5 is below the minimum 0",
        None,
        None,
        "100.0000000000000000001 is above the maximum 100",
        "'abc' is not a number",
        None,
        None,
    ]


def test_exclusive_limits(ctx):
    rule = make(ctx, min=0, max=1.5, inclusive_min=False, inclusive_max=False)
    out = rule.check(pd.DataFrame({"qty": [0.0, 0.5, 1.5]}))
    assert out.tolist() == ["0.0 is not above the exclusive minimum 0", None, "1.5 is not below the exclusive maximum 1.5"]


def test_exact_at_the_limit_where_float_would_be_wrong(ctx, text_frame):
    rule = make(ctx, max=0.3)
    out = rule.check(text_frame({"qty": ["0.3", "0.30000000000000001"]}))
    assert out.tolist() == [None, "0.30000000000000001 is above the maximum 0.3"]


def test_nullable_integers_across_chunks(ctx):
    rule = make(ctx, min=1)
    a = rule.check(pd.DataFrame({"qty": pd.array([1, None], dtype="Int64")}, index=[0, 1]))
    b = rule.check(pd.DataFrame({"qty": pd.array([0], dtype="Int64")}, index=[2]))
    assert a.isna().all() and b.tolist() == ["0 is below the minimum 1"] and b.index.tolist() == [2]


def test_to_sql_lets_null_pass(ctx):
    assert make(ctx, min=0, max=100, inclusive_max=False).to_sql("postgres") == '"qty" IS NULL OR ("qty" >= 0 AND "qty" < 100)'


def test_unknown_column(ctx, text_frame):
    with pytest.raises(ConfigError, match=r"unknown column 'qty' in rule range \(columns: quantity\)"):
        make(ctx, min=0).check(text_frame({"quantity": ["1"]}))


def test_bad_configs():
    with pytest.raises(ValidationError, match="give a min, a max or both"):
        RangeConfig(column="a")
    with pytest.raises(ValidationError, match="min 5 is larger than max 1"):
        RangeConfig(column="a", min=5, max=1)


def test_empty_frame(ctx, text_frame):
    assert len(make(ctx, min=0).check(text_frame({"qty": []}))) == 0
