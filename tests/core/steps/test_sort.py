"""The sort step: all rows of the run in order at the end."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from etl_studio.core.errors import ConfigError
from etl_studio.core.steps.sort import Sort, SortConfig


def make(ctx, **config) -> Sort:
    return Sort.from_spec(config, ctx)


def test_sorts_rows_of_all_chunks_with_nulls_last_and_stable_ties(ctx):
    step = make(ctx, by=[{"column": "g"}, {"column": "n", "descending": True}])
    assert step.needs_all_rows
    assert len(step.process(pd.DataFrame({"g": ["b", "a", None], "n": [1, 1, 5]}, index=[0, 1, 2]))) == 0
    step.process(pd.DataFrame({"g": ["a", "b"], "n": [3, 1]}, index=[3, 4]))
    out = step.finish()
    assert out.index.tolist() == [3, 1, 0, 4, 2]
    assert step.finish() is None


def test_nulls_first(ctx, text_frame):
    step = make(ctx, by=[{"column": "a"}], nulls="first")
    step.process(text_frame({"a": ["b", None, "a"]}))
    assert step.finish()["a"].tolist()[1:] == ["a", "b"]


def test_to_sql_gives_the_order_by_list(ctx):
    step = make(ctx, by=[{"column": "a"}, {"column": "b", "descending": True}])
    assert step.to_sql("postgres") == '"a" ASC, "b" DESC NULLS LAST'


def test_unknown_column(ctx):
    with pytest.raises(ConfigError, match="unknown column 'x' in sort"):
        make(ctx, by=[{"column": "x"}]).output_columns(["a"])


def test_bad_config():
    with pytest.raises(ValidationError, match="at least 1 item"):
        SortConfig(by=[])


def test_empty_frame(ctx, text_frame):
    step = make(ctx, by=[{"column": "a"}])
    step.process(text_frame({"a": []}))
    out = step.finish()
    assert len(out) == 0 and list(out.columns) == ["a"]
