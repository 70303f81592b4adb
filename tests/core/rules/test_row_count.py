"""The row_count rule: a run-level check of how many rows came."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from etl_studio.core.rules.row_count import RowCount, RowCountConfig


def test_counts_all_chunks_and_judges_at_finish(ctx, text_frame):
    rule = RowCount.from_spec({"min": 3, "max": 4}, ctx)
    assert rule.columns() == []
    assert rule.check(text_frame({"a": ["x", None]})).isna().all()
    assert rule.finish() == "2 rows, fewer than the minimum 3"
    rule.check(text_frame({"a": ["y", "z", "w"]}, index=[2, 3, 4]))
    assert rule.finish() == "5 rows, more than the maximum 4"


def test_within_limits_passes(ctx, text_frame):
    rule = RowCount.from_spec({"min": 1}, ctx)
    rule.check(text_frame({"a": ["x"]}))
    assert rule.finish() is None


def test_empty_run_fails_a_minimum(ctx, text_frame):
    rule = RowCount.from_spec({"min": 1}, ctx)
    assert len(rule.check(text_frame({"a": []}))) == 0
    assert rule.finish() == "0 rows, fewer than the minimum 1"


def test_bad_configs():
    with pytest.raises(ValidationError, match="give a min, a max or both"):
        RowCountConfig()
    with pytest.raises(ValidationError, match="min 5 is larger than max 1"):
        RowCountConfig(min=5, max=1)
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        RowCountConfig(max=-1)
