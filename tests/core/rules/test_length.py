"""The length rule: number of characters between min and max."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from etl_studio.core.errors import ConfigError
from etl_studio.core.rules.length import Length, LengthConfig


def make(ctx, **config) -> Length:
    return Length.from_spec({"column": "code", **config}, ctx)


def test_short_long_and_null(ctx, text_frame):
    rule = make(ctx, min=2, max=3)
    out = rule.check(text_frame({"code": ["a", "ab", "abcd", None, "äöü"]}))
    assert out.tolist() == ["'a' is shorter than 2 characters", None, "'abcd' is longer than 3 characters", None, None]


def test_numbers_are_measured_as_text_across_chunks(ctx):
    rule = make(ctx, max=2)
    assert rule.check(pd.DataFrame({"code": pd.array([12], dtype="Int64")}, index=[0])).isna().all()
    assert rule.check(pd.DataFrame({"code": pd.array([123], dtype="Int64")}, index=[1])).tolist() == ["123 is longer than 2 characters"]


def test_long_values_are_shortened_in_reasons(ctx, text_frame):
    out = make(ctx, max=5).check(text_frame({"code": ["x" * 100]}))
    assert out.iloc[0].startswith("'xxxx") and "…'" in out.iloc[0] and len(out.iloc[0]) < 80


def test_to_sql(ctx):
    assert make(ctx, min=1).to_sql("postgres") == '"code" IS NULL OR (LENGTH("code") >= 1)'


def test_unknown_column(ctx, text_frame):
    with pytest.raises(ConfigError, match="unknown column 'code' in rule length"):
        make(ctx, min=1).check(text_frame({"c": ["x"]}))


def test_bad_configs():
    with pytest.raises(ValidationError, match="give a min, a max or both"):
        LengthConfig(column="a")
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        LengthConfig(column="a", min=-1)
    with pytest.raises(ValidationError, match="min 5 is larger than max 2"):
        LengthConfig(column="a", min=5, max=2)


def test_empty_frame(ctx, text_frame):
    assert len(make(ctx, min=1).check(text_frame({"code": []}))) == 0
