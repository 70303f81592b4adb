"""The 'length' rule: text must have between min and max characters."""

from __future__ import annotations

import pandas as pd
from etl_studio.core.lazy import sqlglot_expressions as sx
from pydantic import Field, model_validator

from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import rules
from etl_studio.core.rules._reasons import column, null_or, reasons_where, shown
from etl_studio.core.rules.base import QualityRule
from etl_studio.core.steps._columns import require_columns


class LengthConfig(PluginConfig):
    column: str = Field(description="The column to check (non-text values are measured as text).")
    min: int | None = Field(default=None, ge=0, description="Fewest characters allowed; empty: no lower limit.")
    max: int | None = Field(default=None, ge=0, description="Most characters allowed; empty: no upper limit.")

    @model_validator(mode="after")
    def _limits(self) -> LengthConfig:
        if self.min is None and self.max is None:
            raise ValueError("give a min, a max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is larger than max {self.max}")
        return self


@rules.register("length")
class Length(QualityRule):
    """Counts characters (not bytes), spaces included; NULL passes."""

    config_model = LengthConfig
    title = "Length"
    description = "Text must have at least min and at most max characters."
    config: LengthConfig

    def columns(self) -> list[str]:
        return [self.config.column]

    def check(self, chunk: pd.DataFrame) -> pd.Series:
        cfg = self.config
        require_columns(f"rule {self.name}", self.columns(), chunk.columns)
        values = chunk[cfg.column]
        lengths = values.astype("string").str.len()
        show = shown(values)
        messages = pd.Series([None] * len(chunk), index=chunk.index, dtype=object)
        failing = pd.Series(False, index=chunk.index)
        if cfg.min is not None:
            short = (lengths < cfg.min).fillna(False)
            messages[short] = (show[short] + f" is shorter than {cfg.min} characters").to_numpy(dtype=object)
            failing |= short
        if cfg.max is not None:
            long = (lengths > cfg.max).fillna(False)
            messages[long] = (show[long] + f" is longer than {cfg.max} characters").to_numpy(dtype=object)
            failing |= long
        return reasons_where(chunk.index, failing.to_numpy(dtype=bool), messages)

    def to_sql(self, dialect: str) -> str | None:
        cfg = self.config
        size = sx.Length(this=column(cfg.column))
        tests: list[sx.Expression] = []
        if cfg.min is not None:
            tests.append(sx.GTE(this=size.copy(), expression=sx.Literal.number(cfg.min)))
        if cfg.max is not None:
            tests.append(sx.LTE(this=size.copy(), expression=sx.Literal.number(cfg.max)))
        return null_or(cfg.column, sx.and_(*tests), dialect)
