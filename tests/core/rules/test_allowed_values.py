"""The allowed_values rule: a value from a fixed list."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from etl_studio.core.errors import ConfigError
from etl_studio.core.rules.allowed_values import AllowedValues, AllowedValuesConfig


def make(ctx, **config) -> AllowedValues:
    return AllowedValues.from_spec({"column": "country", **config}, ctx)


def test_case_sensitive_by_default_and_null_passes(ctx, text_frame):
    rule = make(ctx, values=["DE", "FR"])
    out = rule.check(text_frame({"country": ["DE", "de", None, "XX"]}))
    assert out.tolist() == [
        None,
        "'de' is not one of the allowed values ('DE', 'FR')",
        None,
        "'XX' is not one of the allowed values ('DE', 'FR')",
    ]


def test_case_insensitive(ctx, text_frame):
    assert make(ctx, values=["DE"], case_sensitive=False).check(text_frame({"country": ["de", "De"]})).isna().all()


def test_numbers_and_long_lists(ctx):
    rule = make(ctx, values=[1, 2, 3, 4, 5, 6, 7])
    a = rule.check(pd.DataFrame({"country": pd.array([1, None], dtype="Int64")}, index=[0, 1]))
    b = rule.check(pd.DataFrame({"country": pd.array([9], dtype="Int64")}, index=[2]))
    assert a.isna().all()
    assert b.tolist() == ["9 is not one of the allowed values (1, 2, 3, 4, 5 and 2 more)"]


def test_text_column_against_numbers_compares_their_text(ctx, text_frame):
    assert make(ctx, values=[1, 2]).check(text_frame({"country": ["1", "3"]})).isna().tolist() == [True, False]


def test_to_sql(ctx):
    assert make(ctx, values=["DE", "FR"]).to_sql("postgres") == "\"country\" IS NULL OR (\"country\" IN ('DE', 'FR'))"


def test_unknown_column(ctx, text_frame):
    with pytest.raises(ConfigError, match="unknown column 'country' in rule allowed_values"):
        make(ctx, values=["DE"]).check(text_frame({"land": ["DE"]}))


def test_bad_configs():
    with pytest.raises(ValidationError, match="at least 1 item"):
        AllowedValuesConfig(column="a", values=[])


def test_empty_frame(ctx, text_frame):
    assert len(make(ctx, values=["DE"]).check(text_frame({"country": []}))) == 0
