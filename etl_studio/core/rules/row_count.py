"""The 'row_count' rule: the run must bring between min and max rows (a run-level check)."""

from __future__ import annotations

import pandas as pd
from pydantic import Field, model_validator

from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import rules
from etl_studio.core.rules._reasons import passing
from etl_studio.core.rules.base import QualityRule


class RowCountConfig(PluginConfig):
    min: int | None = Field(default=None, ge=0, description="Fewest rows a run may bring; empty: no lower limit.")
    max: int | None = Field(default=None, ge=0, description="Most rows a run may bring; empty: no upper limit.")

    @model_validator(mode="after")
    def _limits(self) -> RowCountConfig:
        if self.min is None and self.max is None:
            raise ValueError("give a min, a max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is larger than max {self.max}")
        return self


@rules.register("row_count")
class RowCount(QualityRule):
    """Every row passes check(); finish() judges the total of the rows it was shown."""

    config_model = RowCountConfig
    title = "Row count"
    description = "The run must bring at least min and at most max rows (e.g. an empty export fails)."
    config: RowCountConfig

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.rows = 0

    def columns(self) -> list[str]:
        return []

    def check(self, chunk: pd.DataFrame) -> pd.Series:
        self.rows += len(chunk)
        return passing(chunk.index)

    def finish(self) -> str | None:
        cfg, n = self.config, self.rows
        noun = "row" if n == 1 else "rows"
        if cfg.min is not None and n < cfg.min:
            return f"{n} {noun}, fewer than the minimum {cfg.min}"
        if cfg.max is not None and n > cfg.max:
            return f"{n} {noun}, more than the maximum {cfg.max}"
        return None
