"""The 'not_null' rule: the column must hold a value (the only rule NULL fails)."""

from __future__ import annotations

import pandas as pd
from etl_studio.core.lazy import sqlglot_expressions as sx
from pydantic import Field

from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import rules
from etl_studio.core.rules._reasons import column, reasons_where
from etl_studio.core.rules.base import QualityRule
from etl_studio.core.steps._columns import require_columns


class NotNullConfig(PluginConfig):
    column: str = Field(description="The column that must not be empty.")


@rules.register("not_null")
class NotNull(QualityRule):
    config_model = NotNullConfig
    title = "Not empty"
    description = "Every row must have a value in the column (NULL fails)."
    config: NotNullConfig

    def columns(self) -> list[str]:
        return [self.config.column]

    def check(self, chunk: pd.DataFrame) -> pd.Series:
        require_columns(f"rule {self.name}", self.columns(), chunk.columns)
        return reasons_where(chunk.index, chunk[self.config.column].isna(), f"{self.config.column} is empty")

    def to_sql(self, dialect: str) -> str | None:
        return sx.Not(this=sx.Is(this=column(self.config.column), expression=sx.Null())).sql(dialect=dialect)
