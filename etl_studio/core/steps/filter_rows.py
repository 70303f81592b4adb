"""The 'filter_rows' step: keep the rows for which an SQL condition is TRUE (as SQL WHERE).

Rows whose condition cannot be evaluated (e.g. '12x' compared with a number) are not
silently dropped with the NULL/false ones: they stay, carrying the reason in the row-error
column (see steps/row_errors.py), so the runner sends them to quarantine instead of the
target; ``error_rows`` counts them. Rows that an earlier step already marked are kept
for the same reason, whatever the condition says.
"""

from __future__ import annotations

import pandas as pd
from pydantic import Field, field_validator

from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import steps
from etl_studio.core.steps._expressions import CompiledFor, as_condition
from etl_studio.core.steps.base import Step
from etl_studio.core.steps.row_errors import error_free, merge_row_errors


class FilterRowsConfig(PluginConfig):
    expr: str = Field(default="TRUE", description="Keep rows where this is true, e.g. country = 'DE' AND amount > 0. NULL counts as false.")

    @field_validator("expr")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the filter needs a condition, e.g. amount > 0")
        return value


@steps.register("filter_rows")
class FilterRows(Step):
    config_model = FilterRowsConfig
    title = "Filter rows"
    description = "Keep only rows where a condition is true (rows where it is false or NULL are dropped)."
    config: FilterRowsConfig

    def __init__(self, config: FilterRowsConfig, context) -> None:  # type: ignore[no-untyped-def]
        super().__init__(config, context)
        self._expression = CompiledFor(config.expr, "filter_rows", context)
        self.error_rows = 0
        self.dropped_rows = 0

    def output_columns(self, columns: list[str]) -> list[str]:
        self._expression.compile(columns)
        return list(columns)

    def process(self, chunk: pd.DataFrame) -> pd.DataFrame:
        values, errors = self._expression.evaluate(chunk)
        keep = as_condition(values, "filter_rows", self.config.expr).fillna(False).to_numpy(dtype=bool)
        # A row an earlier step already failed is headed for quarantine: dropping it here would lose it.
        keep |= ~error_free(chunk).to_numpy(dtype=bool)
        if errors is not None:
            failed = errors.notna().to_numpy(dtype=bool)
            self.error_rows += int(failed.sum())
            keep |= failed
            chunk = merge_row_errors(chunk, errors)
        self.dropped_rows += int((~keep).sum())
        return chunk[keep]

    def to_sql(self, dialect: str) -> str | None:
        """The WHERE predicate."""
        return self._expression.to_sql(dialect)
