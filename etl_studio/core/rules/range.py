"""The 'range' rule: a number must lie between a minimum and a maximum, compared exactly."""

from __future__ import annotations

import pandas as pd
from etl_studio.core.lazy import sqlglot_expressions as sx
from pydantic import Field, model_validator

from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import rules
from etl_studio.core.rules._reasons import column, null_or, reasons_where, shown
from etl_studio.core.rules.base import QualityRule
from etl_studio.core.steps._columns import require_columns
from etl_studio.core.steps._numbers import numeric_view, to_decimal


class RangeConfig(PluginConfig):
    column: str = Field(description="The numeric column to check (text numbers are read exactly).")
    min: int | float | None = Field(default=None, description="Smallest allowed value; empty: no lower limit.")
    max: int | float | None = Field(default=None, description="Largest allowed value; empty: no upper limit.")
    inclusive_min: bool = Field(default=True, description="The minimum itself is allowed.")
    inclusive_max: bool = Field(default=True, description="The maximum itself is allowed.")

    @model_validator(mode="after")
    def _limits(self) -> RangeConfig:
        if self.min is None and self.max is None:
            raise ValueError("give a min, a max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is larger than max {self.max}")
        return self


def _text(value: int | float) -> str:
    return str(to_decimal(value))


@rules.register("range")
class Range(QualityRule):
    """NULL passes; text that is not a number fails ("'abc' is not a number")."""

    config_model = RangeConfig
    title = "Range"
    description = "A number must lie between a minimum and a maximum (each inclusive unless told otherwise)."
    config: RangeConfig

    def columns(self) -> list[str]:
        return [self.config.column]

    def check(self, chunk: pd.DataFrame) -> pd.Series:
        cfg = self.config
        require_columns(f"rule {self.name}", self.columns(), chunk.columns)
        values = chunk[cfg.column]
        view = numeric_view(values)
        show = shown(values)
        messages = pd.Series([None] * len(chunk), index=chunk.index, dtype=object)
        failing = view.bad.copy()
        messages[view.bad] = (show[view.bad] + " is not a number").to_numpy(dtype=object)
        plain = values.astype("string").str.strip()  # numbers shown bare even when stored as text
        if cfg.min is not None:
            sign = view.compare(to_decimal(cfg.min))
            low = view.valid & ((sign < 0) if cfg.inclusive_min else (sign <= 0))
            text = " is below the minimum " if cfg.inclusive_min else " is not above the exclusive minimum "
            messages[low] = (plain[low] + text + _text(cfg.min)).to_numpy(dtype=object)
            failing |= low
        if cfg.max is not None:
            sign = view.compare(to_decimal(cfg.max))
            high = view.valid & ((sign > 0) if cfg.inclusive_max else (sign >= 0))
            text = " is above the maximum " if cfg.inclusive_max else " is not below the exclusive maximum "
            messages[high] = (plain[high] + text + _text(cfg.max)).to_numpy(dtype=object)
            failing |= high
        return reasons_where(chunk.index, failing, messages)

    def to_sql(self, dialect: str) -> str | None:
        cfg = self.config
        tests: list[sx.Expression] = []
        if cfg.min is not None:
            op = sx.GTE if cfg.inclusive_min else sx.GT
            tests.append(op(this=column(cfg.column), expression=sx.Literal.number(_text(cfg.min))))
        if cfg.max is not None:
            op = sx.LTE if cfg.inclusive_max else sx.LT
            tests.append(op(this=column(cfg.column), expression=sx.Literal.number(_text(cfg.max))))
        return null_or(cfg.column, sx.and_(*tests), dialect)


