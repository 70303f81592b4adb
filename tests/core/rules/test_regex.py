"""The regex rule: full match of a pattern or a preset such as e-mail."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from etl_studio.core.errors import ConfigError
from etl_studio.core.rules.regex import Regex, RegexConfig


def make(ctx, **config) -> Regex:
    return Regex.from_spec({"column": "email", **config}, ctx)


def test_email_preset(ctx, text_frame):
    rule = make(ctx, preset="email")
    out = rule.check(text_frame({"email": ["bob@", "ann.lee+news@mail.example.co.uk", None, "a b@x.de", "x@y.z"]}))
    assert out.tolist() == [
        "'bob@' is not a valid e-mail address",
        None,
        None,
        "'a b@x.de' is not a valid e-mail address",
        "'x@y.z' is not a valid e-mail address",
    ]


def test_pattern_must_match_in_full_and_case_sensitively(ctx, text_frame):
    rule = make(ctx, pattern=r"[A-Z]{2}\d+")
    out = rule.check(text_frame({"email": ["DE123", "DE123x", "de123"]}))
    assert out.tolist() == [None, r"'DE123x' does not match the pattern [A-Z]{2}\d+", r"'de123' does not match the pattern [A-Z]{2}\d+"]


def test_python_regex_features_work(ctx, text_frame):
    rule = make(ctx, pattern=r"(?!test)\w+")
    assert rule.check(text_frame({"email": ["real", "testing"]})).tolist()[0] is None


def test_across_chunks_keeps_index(ctx, text_frame):
    rule = make(ctx, preset="digits")
    assert rule.check(text_frame({"email": ["12"]}, index=[4])).index.tolist() == [4]
    assert rule.check(text_frame({"email": ["1a"]}, index=[5])).tolist() == ["'1a' is not made of digits only"]


def test_to_sql_uses_the_dialect_regex_operator(ctx):
    assert make(ctx, pattern="a+").to_sql("postgres") == "\"email\" IS NULL OR (\"email\" ~ '^(?:a+)$')"


def test_unknown_column(ctx, text_frame):
    with pytest.raises(ConfigError, match="unknown column 'email' in rule regex"):
        make(ctx, preset="email").check(text_frame({"mail": ["x"]}))


def test_bad_configs():
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        RegexConfig(column="a", pattern="(unclosed")
    with pytest.raises(ValidationError, match="either a pattern or a preset"):
        RegexConfig(column="a")
    with pytest.raises(ValidationError, match="either a pattern or a preset"):
        RegexConfig(column="a", pattern="x", preset="email")
    with pytest.raises(ValidationError, match="'email'"):
        RegexConfig(column="a", preset="phone")


def test_empty_frame(ctx, text_frame):
    assert len(make(ctx, preset="email").check(text_frame({"email": []}))) == 0
