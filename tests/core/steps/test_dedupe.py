"""The dedupe step: one row per key across the whole run, first or last."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from etl_studio.core.errors import ConfigError
from etl_studio.core.steps.dedupe import Dedupe, DedupeConfig
from etl_studio.core.steps.row_errors import ROW_ERROR_COLUMN


def make(ctx, **config) -> Dedupe:
    return Dedupe.from_spec(config, ctx)


def test_keep_first_by_key_across_chunks_keeps_source_row_numbers(ctx, text_frame):
    step = make(ctx, columns=["id"])
    assert not step.needs_all_rows
    first = step.process(text_frame({"id": ["1", "2", "1"], "v": ["a", "b", "c"]}, index=[0, 1, 2]))
    second = step.process(text_frame({"id": ["2", "3", "3"], "v": ["d", "e", "f"]}, index=[3, 4, 5]))
    assert first.index.tolist() == [0, 1] and first["v"].tolist() == ["a", "b"]
    assert second.index.tolist() == [4] and second["v"].tolist() == ["e"]
    assert step.finish() is None


def test_keep_last_holds_one_row_per_key_until_finish(ctx, text_frame):
    step = make(ctx, columns=["id"], keep="last")
    assert step.needs_all_rows
    assert len(step.process(text_frame({"id": ["1", "2", "1"], "v": ["a", "b", "c"]}, index=[0, 1, 2]))) == 0
    assert len(step.process(text_frame({"id": ["2", "3"], "v": ["d", "e"]}, index=[3, 4]))) == 0
    out = step.finish()
    assert sorted(zip(out.index, out["v"])) == [(2, "c"), (3, "d"), (4, "e")]


def test_rows_failed_by_an_earlier_step_pass_through_and_claim_no_key(ctx, text_frame):
    chunk = text_frame({"a": ["x", "x", "y", "y"]})
    chunk[ROW_ERROR_COLUMN] = pd.Series([None, "boom", "boom", None], dtype=object)
    out = make(ctx).process(chunk)
    assert out.index.tolist() == [0, 1, 2, 3]  # whole-row key ignores the error column; failed rows go on
    step = make(ctx, keep="last")
    assert step.process(chunk).index.tolist() == [1, 2]
    assert step.finish().index.tolist() == [0, 3]


def test_nulls_count_as_equal_keys_like_distinct(ctx, text_frame):
    out = make(ctx, columns=["id"]).process(text_frame({"id": [None, None, "1"]}))
    assert out.index.tolist() == [0, 2]


def test_unknown_column(ctx):
    with pytest.raises(ConfigError, match=r"unknown column 'idd' in dedupe \(columns: id\)"):
        make(ctx, columns=["idd"]).output_columns(["id"])


def test_bad_config():
    with pytest.raises(ValidationError, match="'first' or 'last'"):
        DedupeConfig(keep="middle")


@pytest.mark.parametrize("keep", ["first", "last"])
def test_empty_frame(ctx, text_frame, keep):
    step = make(ctx, keep=keep)
    out = step.process(text_frame({"id": []}))
    assert len(out) == 0 and list(out.columns) == ["id"]
    finished = step.finish()
    assert finished is None or len(finished) == 0
