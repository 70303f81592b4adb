"""The bucket step: Bronze/Silver/Gold from an amount."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from etl_studio.core.errors import ConfigError
from etl_studio.core.steps.bucket import BucketConfig, BucketStep
from etl_studio.core.steps.row_errors import ROW_ERROR_COLUMN

TIERS = [{"label": "Bronze", "max": 100}, {"label": "Silver", "min": 100, "max": 1000}, {"label": "Gold", "min": 1000}]


def make(ctx, **config) -> BucketStep:
    return BucketStep.from_spec({"column": "amount", "into": "tier", "buckets": TIERS, **config}, ctx)


def test_labels_by_range_min_inclusive_max_exclusive_exactly_from_text(ctx, text_frame):
    chunk = text_frame({"amount": ["5", "100", "999.99999999999999999", "1000", "-3"]})
    out = make(ctx).process(chunk)
    assert out["tier"].tolist() == ["Bronze", "Silver", "Silver", "Gold", "Bronze"]
    assert ROW_ERROR_COLUMN not in out.columns


def test_default_label_for_values_outside_every_range(ctx):
    step = BucketStep.from_spec(
        {"column": "amount", "into": "tier", "buckets": [{"label": "low", "min": 0, "max": 10}], "default": "other"}, ctx
    )
    out = step.process(pd.DataFrame({"amount": [5, 50, -1, None]}))
    assert out["tier"].tolist()[:3] == ["low", "other", "other"] and pd.isna(out["tier"].iloc[3])


def test_null_stays_null_and_non_numbers_go_to_quarantine(ctx, text_frame):
    out = make(ctx).process(text_frame({"amount": [None, "abc"]}, index=[7, 8]))
    assert out["tier"].isna().all()
    assert out[ROW_ERROR_COLUMN].tolist() == [None, "'abc' in column amount is not a number"]


def test_works_per_chunk_with_numeric_columns(ctx):
    step = make(ctx)
    a = step.process(pd.DataFrame({"amount": pd.array([1, 2000], dtype="Int64")}, index=[0, 1]))
    b = step.process(pd.DataFrame({"amount": pd.array([150], dtype="Int64")}, index=[2]))
    assert a["tier"].tolist() == ["Bronze", "Gold"] and b["tier"].tolist() == ["Silver"] and b.index.tolist() == [2]


def test_output_columns_and_to_sql(ctx):
    step = make(ctx)
    assert step.output_columns(["amount"]) == ["amount", "tier"]
    assert step.output_columns(["amount", "tier"]) == ["amount", "tier"]
    sql = step.to_sql("postgres")
    assert sql.startswith('CASE WHEN "amount" IS NULL THEN NULL WHEN "amount" < 100 THEN \'Bronze\'')


def test_unknown_column(ctx):
    with pytest.raises(ConfigError, match=r"unknown column 'amount' in bucket \(columns: total\)"):
        make(ctx).output_columns(["total"])


def test_bad_configs():
    with pytest.raises(ValidationError, match="min 10 must be below max 5"):
        BucketConfig(column="a", into="b", buckets=[{"label": "x", "min": 10, "max": 5}])
    with pytest.raises(ValidationError, match="at least 1 item"):
        BucketConfig(column="a", into="b", buckets=[])
    with pytest.raises(ValidationError, match="needs a name"):
        BucketConfig(column="a", into=" ", buckets=[{"label": "x"}])


def test_empty_frame(ctx, text_frame):
    out = make(ctx).process(text_frame({"amount": []}))
    assert len(out) == 0 and list(out.columns) == ["amount", "tier"]
