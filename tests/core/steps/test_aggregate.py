"""The aggregate step: GROUP BY over the whole run, exact decimal sums from CSV text."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from pydantic import ValidationError

from etl_studio.core.errors import ConfigError, DataError
from etl_studio.core.steps.aggregate import AggregateConfig, Aggregate


def make(ctx, **config) -> Aggregate:
    return Aggregate.from_spec(config, ctx)


def by_group(frame: pd.DataFrame, key: str) -> dict:
    return {k: row for k, row in zip(frame[key].tolist(), frame.drop(columns=[key]).to_dict("records"))}


def test_groups_across_chunks_with_exact_sums_and_means(ctx, text_frame):
    step = make(
        ctx,
        group_by=["country"],
        aggregations=[
            {"func": "count"},
            {"column": "amount", "func": "sum", "as": "total"},
            {"column": "amount", "func": "mean"},
            {"column": "amount", "func": "count"},
            {"column": "customer", "func": "count_distinct", "as": "customers"},
        ],
    )
    assert step.needs_all_rows
    assert len(step.process(text_frame({"country": ["DE", "FR", "DE"], "amount": ["459.90", "0.1", "0.2"], "customer": ["a", "b", "a"]}))) == 0
    step.process(text_frame({"country": ["DE", "FR"], "amount": [None, "0.2"], "customer": ["c", "b"]}, index=[3, 4]))
    out = step.finish()
    assert list(out.columns) == ["country", "count", "total", "mean_amount", "count_amount", "customers"]
    groups = by_group(out, "country")
    assert groups["DE"]["count"] == 3 and groups["DE"]["count_amount"] == 2 and groups["DE"]["customers"] == 2
    assert groups["DE"]["total"] == Decimal("460.10")
    assert groups["FR"]["total"] == Decimal("0.3")  # float64 would give 0.30000000000000004
    assert groups["DE"]["mean_amount"] == Decimal("230.05")
    assert groups["FR"]["customers"] == 1


def test_null_group_key_is_one_group_and_all_null_sum_is_null(ctx, text_frame):
    step = make(ctx, group_by=["g"], aggregations=[{"column": "v", "func": "sum"}, {"column": "v", "func": "max"}])
    step.process(text_frame({"g": [None, None, "a"], "v": ["1", "2", None]}))
    out = step.finish()
    assert len(out) == 2
    null_row = out[out["g"].isna()].iloc[0]
    assert null_row["sum_v"] == Decimal("3") and null_row["max_v"] == "2"
    a_row = out[out["g"] == "a"].iloc[0]
    assert pd.isna(a_row["sum_v"]) and pd.isna(a_row["max_v"])


def test_numeric_columns_keep_their_kind(ctx):
    step = make(ctx, aggregations=[{"column": "n", "func": "sum"}, {"column": "n", "func": "min"}, {"column": "f", "func": "mean"}])
    step.process(pd.DataFrame({"n": pd.array([3, None], dtype="Int64"), "f": [1.0, 2.0]}))
    step.process(pd.DataFrame({"n": pd.array([1], dtype="Int64"), "f": [6.0]}))
    out = step.finish()
    assert out["sum_n"].dtype == "Int64" and out["sum_n"].tolist() == [4]
    assert out["min_n"].tolist() == [1] and out["mean_f"].tolist() == [3.0]


def test_without_group_by_an_empty_run_gives_one_row_like_sql(ctx, text_frame):
    step = make(ctx, aggregations=[{"func": "count"}, {"column": "v", "func": "sum"}])
    step.process(text_frame({"v": []}))
    out = step.finish()
    assert len(out) == 1 and out["count"].tolist() == [0] and pd.isna(out["sum_v"].iloc[0])


def test_with_group_by_an_empty_frame_gives_no_rows(ctx, text_frame):
    step = make(ctx, group_by=["g"], aggregations=[{"func": "count"}])
    assert len(step.process(text_frame({"g": []}))) == 0
    out = step.finish()
    assert len(out) == 0 and list(out.columns) == ["g", "count"]


def test_text_that_is_not_a_number_stops_the_sum_naming_row_and_value(ctx, text_frame):
    step = make(ctx, aggregations=[{"column": "v", "func": "sum"}])
    with pytest.raises(DataError, match=r"'12x' \(row 8\) is not a number"):
        step.process(text_frame({"v": ["1", "12x"]}, index=[7, 8]))


def test_unknown_column(ctx):
    with pytest.raises(ConfigError, match=r"unknown column 'amout' in aggregate \(columns: amount\)"):
        make(ctx, aggregations=[{"column": "amout", "func": "sum"}]).output_columns(["amount"])


def test_bad_configs():
    with pytest.raises(ValidationError, match="'sum' needs a column"):
        AggregateConfig(aggregations=[{"func": "sum"}])
    with pytest.raises(ValidationError, match="two aggregations are named 'x'"):
        AggregateConfig(aggregations=[{"func": "count", "as": "x"}, {"func": "sum", "column": "a", "as": "x"}])
    with pytest.raises(ValidationError, match="at least 1 item"):
        AggregateConfig(aggregations=[])
    with pytest.raises(ValidationError, match="also a group_by column"):
        AggregateConfig(group_by=["count"], aggregations=[{"func": "count"}])


def test_config_round_trips_with_the_as_key():
    config = AggregateConfig(aggregations=[{"column": "a", "func": "sum", "as": "total"}])
    dumped = config.model_dump(mode="json")
    assert dumped["aggregations"][0]["as"] == "total"
    assert AggregateConfig.model_validate(dumped) == config


def test_rows_failed_by_an_earlier_step_are_left_out_and_counted(ctx, text_frame, caplog):
    from etl_studio.core.steps.row_errors import ROW_ERROR_COLUMN

    chunk = text_frame({"v": ["1", "2", "4"]}, index=[5, 6, 7])
    chunk[ROW_ERROR_COLUMN] = pd.Series([None, "bad total", None], index=chunk.index, dtype=object)
    step = make(ctx, aggregations=[{"column": "v", "func": "sum"}])
    step.process(chunk)
    assert step.finish()["sum_v"].tolist() == [Decimal("5")]
    assert step.error_rows == 1 and "row 6: bad total" in caplog.text
