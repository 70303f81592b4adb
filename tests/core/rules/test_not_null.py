"""The not_null rule: the only rule NULL fails."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from etl_studio.core.errors import ConfigError
from etl_studio.core.rules.not_null import NotNull, NotNullConfig


def make(ctx, **config) -> NotNull:
    return NotNull.from_spec(config, ctx, name="email required")


def test_null_fails_and_values_pass_in_every_chunk(ctx, text_frame):
    rule = make(ctx, column="email")
    assert rule.name == "email required" and rule.columns() == ["email"]
    first = rule.check(text_frame({"email": ["a@b.de", None]}, index=[0, 1]))
    second = rule.check(text_frame({"email": [None, ""]}, index=[2, 3]))
    assert first.tolist() == [None, "email is empty"] and first.index.tolist() == [0, 1]
    assert second.tolist() == ["email is empty", None]
    assert rule.finish() is None


def test_to_sql(ctx):
    assert make(ctx, column="email").to_sql("postgres") == 'NOT "email" IS NULL'


def test_unknown_column(ctx, text_frame):
    with pytest.raises(ConfigError, match=r"unknown column 'emial' in rule email required \(columns: email\)"):
        make(ctx, column="emial").check(text_frame({"email": ["x"]}))


def test_bad_config():
    with pytest.raises(ValidationError, match="column"):
        NotNullConfig()


def test_empty_frame(ctx, text_frame):
    assert len(make(ctx, column="a").check(text_frame({"a": []}))) == 0
