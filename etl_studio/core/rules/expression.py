"""The 'expression' rule: a custom SQL condition; FALSE fails, NULL passes (DESIGN §7)."""

from __future__ import annotations

import pandas as pd
from pydantic import Field, field_validator

from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import rules
from etl_studio.core.rules._reasons import reasons_where, shown
from etl_studio.core.rules.base import QualityRule
from etl_studio.core.steps._expressions import CompiledFor, as_condition

# Reasons name the values of at most this many referenced columns.
MAX_VALUES_SHOWN = 3


class ExpressionRuleConfig(PluginConfig):
    expr: str = Field(default="TRUE", description="A condition each row must meet, e.g. ship_date >= order_date.")

    @field_validator("expr")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the rule needs a condition, e.g. amount > 0")
        return value


@rules.register("expression")
class ExpressionRule(QualityRule):
    """As a SQL CHECK constraint: a row fails only when the condition is false; NULL passes.
    A row whose condition cannot be evaluated fails with the evaluation error."""

    config_model = ExpressionRuleConfig
    title = "Custom condition"
    description = "A row must meet an SQL condition (it fails when the condition is false; NULL passes)."
    config: ExpressionRuleConfig

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._expression = CompiledFor(self.config.expr, f"rule {self.name}", self.context)
        self._referenced: list[str] = []

    def columns(self) -> list[str]:
        return list(self._referenced)

    def check(self, chunk: pd.DataFrame) -> pd.Series:
        compiled = self._expression.compile(chunk.columns)
        self._referenced = sorted(compiled.referenced_columns)
        values, errors = self._expression.evaluate(chunk)
        false = (~as_condition(values, f"rule {self.name}", self.config.expr)).fillna(False).to_numpy(dtype=bool)
        messages = pd.Series(f"{self.config.expr} is false", index=chunk.index, dtype=object)
        shown_columns = [c for c in chunk.columns if c in compiled.referenced_columns][:MAX_VALUES_SHOWN]
        if shown_columns and false.any():
            parts = [c + "=" + shown(chunk[c]).fillna("NULL") for c in shown_columns]
            detail = parts[0]
            for part in parts[1:]:
                detail = detail + ", " + part
            messages = (f"{self.config.expr} is false (" + detail + ")").astype(object)
        failing = false
        if errors is not None:
            failed = errors.notna().to_numpy(dtype=bool)
            messages = messages.where(~failed, errors)
            failing = failing | failed
        return reasons_where(chunk.index, failing, messages)

    def to_sql(self, dialect: str) -> str | None:
        """``COALESCE((expr), TRUE)``: NULL passes, as the in-memory check says."""
        inner = self._expression.to_sql(dialect)
        return None if inner is None else f"COALESCE(({inner}), TRUE)"
