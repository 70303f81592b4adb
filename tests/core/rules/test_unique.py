"""The unique rule: across the whole run, first occurrence passes, NULLs are distinct."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from etl_studio.core.errors import ConfigError
from etl_studio.core.rules.unique import Unique, UniqueConfig


def make(ctx, *columns: str) -> Unique:
    return Unique.from_spec({"columns": list(columns)}, ctx)


def test_later_repeats_fail_citing_the_first_row_across_chunks(ctx, text_frame):
    rule = make(ctx, "id")
    first = rule.check(text_frame({"id": ["a", "b", "a"]}, index=[10, 11, 12]))
    second = rule.check(text_frame({"id": ["b", "c", "c"]}, index=[13, 14, 15]))
    assert first.tolist() == [None, None, "duplicate of row 10"]
    assert second.tolist() == ["duplicate of row 11", None, "duplicate of row 14"]


def test_nulls_are_distinct_for_one_and_several_columns(ctx, text_frame):
    rule = make(ctx, "a")
    assert rule.check(text_frame({"a": [None, None]})).isna().all()
    rule = make(ctx, "a", "b")
    out = rule.check(text_frame({"a": ["x", "x", "x", "x"], "b": [None, None, "1", "1"]}))
    assert out.tolist() == [None, None, None, "duplicate of row 2"]


def test_several_columns_form_one_key(ctx):
    rule = make(ctx, "a", "b")
    out = rule.check(pd.DataFrame({"a": [1, 1, 2], "b": [1, 2, 1]}))
    assert out.isna().all()
    assert rule.check(pd.DataFrame({"a": [2], "b": [1]}, index=[3])).tolist() == ["duplicate of row 2"]


def test_case_and_spaces_matter(ctx, text_frame):
    assert make(ctx, "a").check(text_frame({"a": ["X", "x", "x "]})).isna().all()


def test_unknown_column(ctx, text_frame):
    with pytest.raises(ConfigError, match="unknown column 'idd' in rule unique"):
        make(ctx, "idd").check(text_frame({"id": ["1"]}))


def test_bad_configs():
    with pytest.raises(ValidationError, match="at least 1 item"):
        UniqueConfig(columns=[])
    with pytest.raises(ValidationError, match="listed twice"):
        UniqueConfig(columns=["a", "a"])


def test_empty_frame(ctx, text_frame):
    assert len(make(ctx, "a").check(text_frame({"a": []}))) == 0
