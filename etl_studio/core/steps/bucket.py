"""The 'bucket' step: a label column from numeric ranges of another column (Bronze/Silver/Gold)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from etl_studio.core.lazy import sqlglot_expressions as sx
from pydantic import Field, field_validator, model_validator

from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import steps
from etl_studio.core.steps._columns import require_columns
from etl_studio.core.steps._numbers import numeric_view, to_decimal
from etl_studio.core.steps.base import Step
from etl_studio.core.steps.row_errors import merge_row_errors


class Bucket(PluginConfig):
    label: str = Field(description="The label rows in this range get, e.g. 'Gold'.")
    min: int | float | None = Field(default=None, description="Lowest value in the range (inclusive); empty: no lower end.")
    max: int | float | None = Field(default=None, description="End of the range (exclusive); empty: no upper end.")

    @model_validator(mode="after")
    def _ordered(self) -> Bucket:
        if self.min is not None and self.max is not None and not self.min < self.max:
            raise ValueError(f"bucket '{self.label}': min {self.min} must be below max {self.max}")
        return self


class BucketConfig(PluginConfig):
    column: str = Field(description="The numeric column to put into buckets (text numbers are read exactly).")
    into: str = Field(description="The label column to create (or replace).")
    buckets: list[Bucket] = Field(min_length=1, description="Ranges in order; a value gets the label of the first range it falls in.")
    default: str | None = Field(default=None, description="Label for values outside every range; empty: NULL.")

    @field_validator("into")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the new column needs a name")
        return value


@steps.register("bucket")
class BucketStep(Step):
    """NULL stays NULL (an unknown amount is in no bucket); text that is not a number goes to
    quarantine through the row-error column."""

    config_model = BucketConfig
    title = "Buckets"
    description = "Label rows by numeric ranges of a column, e.g. 0–100 Bronze, 100–1000 Silver, 1000+ Gold."
    config: BucketConfig

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns("bucket", [self.config.column], columns)
        return list(columns) if self.config.into in columns else [*columns, self.config.into]

    def process(self, chunk: pd.DataFrame) -> pd.DataFrame:
        cfg = self.config
        self.output_columns(list(chunk.columns))
        view = numeric_view(chunk[cfg.column])
        labels = np.full(len(chunk), None, dtype=object)
        open_rows = view.valid.copy()
        for bucket in cfg.buckets:
            inside = open_rows.copy()
            if bucket.min is not None:
                inside &= view.compare(to_decimal(bucket.min)) >= 0
            if bucket.max is not None:
                inside &= view.compare(to_decimal(bucket.max)) < 0
            labels[inside] = bucket.label
            open_rows &= ~inside
        if cfg.default is not None:
            labels[open_rows] = cfg.default
        out = chunk.copy()
        out[cfg.into] = pd.Series(labels, index=chunk.index, dtype="string")
        if view.bad.any():
            shown = chunk[cfg.column].astype("string")
            reasons = ("'" + shown + "' in column " + cfg.column + " is not a number").where(pd.Series(view.bad, index=chunk.index))
            out = merge_row_errors(out, reasons.astype(object))
        return out

    def to_sql(self, dialect: str) -> str | None:
        """The label as a CASE expression."""
        cfg = self.config
        column = sx.column(cfg.column, quoted=True)
        case = sx.Case().when(sx.Is(this=column.copy(), expression=sx.Null()), sx.Null())
        for bucket in cfg.buckets:
            tests: list[sx.Expression] = []
            if bucket.min is not None:
                tests.append(sx.GTE(this=column.copy(), expression=_number(bucket.min)))
            if bucket.max is not None:
                tests.append(sx.LT(this=column.copy(), expression=_number(bucket.max)))
            condition = sx.and_(*tests) if tests else sx.true()
            case = case.when(condition, sx.Literal.string(bucket.label))
        case = case.else_(sx.Literal.string(cfg.default) if cfg.default is not None else sx.Null())
        return case.sql(dialect=dialect)


def _number(value: int | float) -> sx.Literal:
    return sx.Literal.number(str(to_decimal(value)) if isinstance(value, float) else value)
