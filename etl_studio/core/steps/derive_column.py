"""The 'derive_column' step: a new (or replaced) column computed by an SQL expression.

Row errors convention (shared by every step that can fail on single rows): a row whose
value cannot be computed (a division by zero, '12x' cast to a number) is kept, its new
value is NULL, and the reason goes into the reserved column ``__row_error__``
(``etl_studio.core.steps.row_errors.ROW_ERROR_COLUMN``; object dtype, None or a reason).
If the row already carries a reason from an earlier step, the first reason is kept. The
runner sends every row with a reason to quarantine and drops the column before mapping,
so it never reaches a target.
"""

from __future__ import annotations

import pandas as pd
from pydantic import Field, field_validator

from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import steps
from etl_studio.core.steps._expressions import CompiledFor
from etl_studio.core.steps.base import Step
from etl_studio.core.steps.row_errors import ROW_ERROR_COLUMN, merge_row_errors


class DeriveColumnConfig(PluginConfig):
    name: str = Field(description="The column to create; an existing column of that name is replaced.")
    expr: str = Field(description="An SQL expression over the columns, e.g. quantity * unit_price or lower(trim(email)).")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the new column needs a name")
        if value == ROW_ERROR_COLUMN:
            raise ValueError(f"'{ROW_ERROR_COLUMN}' is reserved for row errors")
        return value

    @field_validator("expr")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the expression is empty")
        return value


@steps.register("derive_column")
class DeriveColumn(Step):
    config_model = DeriveColumnConfig
    title = "Derived column"
    description = "Add or replace a column computed from an expression, e.g. quantity * unit_price."
    config: DeriveColumnConfig

    def __init__(self, config: DeriveColumnConfig, context) -> None:  # type: ignore[no-untyped-def]
        super().__init__(config, context)
        self._expression = CompiledFor(config.expr, f"derive_column '{config.name}'", context)

    def output_columns(self, columns: list[str]) -> list[str]:
        self._expression.compile(columns)
        return list(columns) if self.config.name in columns else [*columns, self.config.name]

    def process(self, chunk: pd.DataFrame) -> pd.DataFrame:
        values, errors = self._expression.evaluate(chunk)
        out = chunk.copy()
        out[self.config.name] = values
        return merge_row_errors(out, errors)

    def to_sql(self, dialect: str) -> str | None:
        """The expression whose value the column takes."""
        return self._expression.to_sql(dialect)
