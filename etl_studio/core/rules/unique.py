"""The 'unique' rule: no two rows of the run share a key (one column or several); NULLs are distinct."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import rules
from etl_studio.core.rules._reasons import passing
from etl_studio.core.rules.base import QualityRule
from etl_studio.core.steps._columns import require_columns
from etl_studio.core.steps._keys import key_hashes


class UniqueConfig(PluginConfig):
    columns: list[str] = Field(min_length=1, description="The key: one column, or several whose combination must be unique.")

    @field_validator("columns")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a column is listed twice")
        return value


@rules.register("unique")
class Unique(QualityRule):
    """Across the whole run: the first row with a key passes, later ones fail citing it.
    A row with NULL in any key column never fails (SQL UNIQUE). State: one hash and one row
    number per distinct key."""

    config_model = UniqueConfig
    title = "Unique"
    description = "No two rows may have the same value (or combination of values); later repeats fail."
    config: UniqueConfig

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._first_row: dict[int, object] = {}

    def columns(self) -> list[str]:
        return list(self.config.columns)

    def check(self, chunk: pd.DataFrame) -> pd.Series:
        require_columns(f"rule {self.name}", self.columns(), chunk.columns)
        out = passing(chunk.index)
        keys = chunk[self.columns()]
        complete = keys.notna().all(axis=1).to_numpy()
        if not complete.any():
            return out
        hashes = key_hashes(keys[complete])
        rows = chunk.index[complete]
        # first row of each key within this chunk, then the run's earlier chunks win over it
        first_here = pd.Series(rows, dtype=object).groupby(hashes, sort=False).transform("first").to_numpy(dtype=object)
        earlier = np.array(list(map(self._first_row.get, hashes.tolist())), dtype=object)
        first = np.where(pd.isna(earlier), first_here, earlier)
        repeat = pd.Series(hashes).duplicated(keep="first").to_numpy() | pd.notna(earlier)
        new = ~repeat
        self._first_row.update(zip(hashes[new].tolist(), rows[new].tolist()))
        if repeat.any():
            messages = [f"duplicate of row {r}" for r in first[repeat].tolist()]  # failing rows only
            values = out.to_numpy(dtype=object, copy=True)
            positions = np.flatnonzero(complete)[repeat]
            values[positions] = messages
            out = pd.Series(values, index=chunk.index, dtype=object)
        return out
