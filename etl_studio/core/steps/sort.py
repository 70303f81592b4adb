"""The 'sort' step: order all rows of the run by one or more columns."""

from __future__ import annotations

from typing import Literal

import pandas as pd
from etl_studio.core.lazy import sqlglot_expressions as sx
from pydantic import Field

from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import steps
from etl_studio.core.steps._columns import require_columns
from etl_studio.core.steps.base import Step


class SortKey(PluginConfig):
    column: str = Field(description="Column to sort by.")
    descending: bool = Field(default=False, description="Largest (or latest, or Z) first.")


class SortConfig(PluginConfig):
    by: list[SortKey] = Field(min_length=1, description="Columns to sort by, most significant first.")
    nulls: Literal["first", "last"] = Field(default="last", description="Where rows with a NULL sort key go.")


@steps.register("sort")
class Sort(Step):
    """Text sorts as text (so '10' before '9'); ties keep their source order (stable sort)."""

    config_model = SortConfig
    title = "Sort"
    description = "Order all rows by one or more columns, ascending or descending."
    needs_all_rows = True
    config: SortConfig

    def __init__(self, config: SortConfig, context) -> None:  # type: ignore[no-untyped-def]
        super().__init__(config, context)
        self._parts: list[pd.DataFrame] = []

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns("sort", [k.column for k in self.config.by], columns)
        return list(columns)

    def process(self, chunk: pd.DataFrame) -> pd.DataFrame:
        self.output_columns(list(chunk.columns))
        self._parts.append(chunk)
        return chunk.iloc[0:0]

    def finish(self) -> pd.DataFrame | None:
        if not self._parts:
            return None
        rows = pd.concat(self._parts) if len(self._parts) > 1 else self._parts[0]
        self._parts = []
        return rows.sort_values(
            [k.column for k in self.config.by],
            ascending=[not k.descending for k in self.config.by],
            kind="stable",
            na_position=self.config.nulls,
        )

    def to_sql(self, dialect: str) -> str | None:
        """The ORDER BY list (without the keywords ORDER BY)."""
        keys = [
            sx.Ordered(this=sx.column(k.column, quoted=True), desc=k.descending, nulls_first=self.config.nulls == "first")
            for k in self.config.by
        ]
        return ", ".join(k.sql(dialect=dialect) for k in keys)
