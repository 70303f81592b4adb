"""The 'referential' rule: the value must exist in a column of another source (a foreign key)."""

from __future__ import annotations

import pandas as pd
from pydantic import Field

from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import rules
from etl_studio.core.rules._reasons import reasons_where, shown
from etl_studio.core.rules.base import QualityRule
from etl_studio.core.steps._columns import SourceSpec, as_text, is_text, load_source, require_columns


class ReferentialConfig(PluginConfig):
    column: str = Field(description="The column whose values must exist in the reference.")
    source: SourceSpec = Field(description="The reference source (read once per run), e.g. the customers file.")
    source_column: str = Field(description="The column of the reference source holding the valid values.")


@rules.register("referential")
class Referential(QualityRule):
    """Values compare as they are; a text value and a numeric reference compare as text
    ('42' = 42). NULL passes, as an SQL foreign key does."""

    config_model = ReferentialConfig
    title = "Reference exists"
    description = "The value must exist in a column of another source (like a foreign key)."
    config: ReferentialConfig

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._reference: pd.Series | None = None

    def columns(self) -> list[str]:
        return [self.config.column]

    def _load(self) -> pd.Series:
        if self._reference is None:
            cfg = self.config
            table = load_source(cfg.source, self.context, [cfg.source_column], f"rule {self.name}")
            self._reference = table[cfg.source_column].dropna().drop_duplicates().reset_index(drop=True)
        return self._reference

    def check(self, chunk: pd.DataFrame) -> pd.Series:
        cfg = self.config
        require_columns(f"rule {self.name}", self.columns(), chunk.columns)
        reference = self._load()
        values = chunk[cfg.column]
        probe = values
        if is_text(values) != is_text(reference):
            probe, reference = as_text(values), as_text(reference)
        found = probe.isin(pd.Index(reference)).to_numpy(dtype=bool)
        failing = values.notna().to_numpy(dtype=bool) & ~found
        return reasons_where(chunk.index, failing, lambda rows: shown(values[rows]) + f" is not found in reference column {cfg.source_column}")
