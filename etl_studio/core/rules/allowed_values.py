"""The 'allowed_values' rule: the value must be one of a fixed list."""

from __future__ import annotations

import pandas as pd
from etl_studio.core.lazy import sqlglot_expressions as sx
from pydantic import Field

from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import rules
from etl_studio.core.rules._reasons import column, null_or, reasons_where, shown
from etl_studio.core.rules.base import QualityRule
from etl_studio.core.steps._columns import is_text, require_columns

# Reasons list at most this many allowed values.
MAX_LISTED = 5


class AllowedValuesConfig(PluginConfig):
    column: str = Field(description="The column to check.")
    values: list[str | int | float | bool] = Field(min_length=1, description="The values that are allowed.")
    case_sensitive: bool = Field(default=True, description="'de' and 'DE' are different values.")


@rules.register("allowed_values")
class AllowedValues(QualityRule):
    """Text columns compare as text (the listed values' text form), others by value; NULL passes."""

    config_model = AllowedValuesConfig
    title = "Allowed values"
    description = "The value must be one of a list (e.g. DE, FR, UK); optionally ignoring case."
    config: AllowedValuesConfig

    def columns(self) -> list[str]:
        return [self.config.column]

    def _listing(self) -> str:
        items = [repr(v) if isinstance(v, str) else str(v) for v in self.config.values[:MAX_LISTED]]
        more = len(self.config.values) - MAX_LISTED
        return ", ".join(items) + (f" and {more} more" if more > 0 else "")

    def check(self, chunk: pd.DataFrame) -> pd.Series:
        cfg = self.config
        require_columns(f"rule {self.name}", self.columns(), chunk.columns)
        values = chunk[cfg.column]
        if is_text(values):
            text = values.astype("string")
            allowed = [str(v) for v in cfg.values]
            if not cfg.case_sensitive:
                text, allowed = text.str.casefold(), [a.casefold() for a in allowed]
            ok = text.isin(allowed)
        else:
            ok = values.isin(cfg.values)
        failing = values.notna().to_numpy(dtype=bool) & ~ok.fillna(True).to_numpy(dtype=bool)
        return reasons_where(chunk.index, failing, lambda rows: shown(values[rows]) + f" is not one of the allowed values ({self._listing()})")

    def to_sql(self, dialect: str) -> str | None:
        cfg = self.config
        subject: sx.Expression = column(cfg.column)
        literals: list[sx.Expression] = []
        for v in cfg.values:
            if isinstance(v, bool):
                literals.append(sx.Boolean(this=v))
            elif isinstance(v, str):
                literals.append(sx.Literal.string(v if cfg.case_sensitive else v.lower()))
            else:
                literals.append(sx.Literal.number(v))
        if not cfg.case_sensitive:
            subject = sx.Lower(this=subject)
        return null_or(cfg.column, sx.In(this=subject, expressions=literals), dialect)
