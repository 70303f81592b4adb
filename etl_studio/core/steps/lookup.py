"""The 'lookup' step: enrich rows with columns of another source, joined on key columns."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from etl_studio.core.errors import ConfigError
from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import steps
from etl_studio.core.steps._columns import SourceSpec, as_text, is_text, load_source, require_columns
from etl_studio.core.steps.base import Step


class LookupConfig(PluginConfig):
    source: SourceSpec = Field(description="The source to look values up in (read once per run).")
    on: list[str | tuple[str, str]] = Field(
        min_length=1,
        description="Join keys: a name present on both sides, or a [this column, lookup column] pair.",
    )
    columns: list[str] = Field(
        default_factory=list, description="Lookup columns to bring in; empty: every column that is not a key."
    )
    how: Literal["left", "inner"] = Field(
        default="left", description="'left' keeps rows without a match (new columns NULL); 'inner' drops them."
    )
    suffix: str = Field(default="_lookup", description="Added to a brought column whose name is already taken.")

    @field_validator("suffix")
    @classmethod
    def _suffix_not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("the suffix must not be empty: it keeps clashing names apart")
        return value

    def pairs(self) -> list[tuple[str, str]]:
        return [(k, k) if isinstance(k, str) else (k[0], k[1]) for k in self.on]


@steps.register("lookup")
class Lookup(Step):
    """A left (or inner) join that never multiplies rows: when the lookup source holds a key
    more than once, its first row is used. NULL keys match nothing, as in SQL."""

    config_model = LookupConfig
    title = "Lookup"
    description = "Add columns from another source matched on key columns (first match per key; rows are never duplicated)."
    config: LookupConfig

    def __init__(self, config: LookupConfig, context) -> None:  # type: ignore[no-untyped-def]
        super().__init__(config, context)
        self._table: pd.DataFrame | None = None
        self._wanted: list[str] = []
        self._brought: dict[str, str] = {}  # lookup column -> output name

    def _load(self) -> pd.DataFrame:
        if self._table is None:
            table = load_source(self.config.source, self.context, None, "lookup")
            right_keys = [r for _, r in self.config.pairs()]
            require_columns("lookup source", right_keys, table.columns)
            wanted = self.config.columns or [c for c in table.columns if c not in right_keys]
            require_columns("lookup source", wanted, table.columns)
            table = table[list(dict.fromkeys([*right_keys, *wanted]))]
            # NULL never equals NULL in a join; a repeated key keeps its first row.
            table = table[table[right_keys].notna().all(axis=1)]
            table = table.drop_duplicates(subset=right_keys, keep="first").reset_index(drop=True)
            self._table = table
            self._wanted = wanted
        return self._table

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns("lookup", [left for left, _ in self.config.pairs()], columns)
        self._load()
        taken = set(columns)
        self._brought = {}
        for name in self._wanted:
            out = name
            while out in taken:
                out += self.config.suffix
            self._brought[name] = out
            taken.add(out)
        return [*columns, *self._brought.values()]

    def process(self, chunk: pd.DataFrame) -> pd.DataFrame:
        self.output_columns(list(chunk.columns))
        table = self._load()
        positions = self._match(chunk, table)
        out = chunk.copy()
        for name, out_name in self._brought.items():
            out[out_name] = pd.Series(_take(table[name], positions), index=chunk.index)
        if self.config.how == "inner":
            out = out[positions >= 0]
        return out

    def _match(self, chunk: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
        """Position in ``table`` of each chunk row's key, -1 where none."""
        if len(chunk) == 0:
            return np.empty(0, dtype=np.intp)
        left_cols, right_cols = [], []
        for left, right in self.config.pairs():
            lv, rv = chunk[left], table[right]
            if is_text(lv) != is_text(rv):
                lv, rv = as_text(lv), as_text(rv)  # '42' and 42 mean the same key
            left_cols.append(lv.reset_index(drop=True))
            right_cols.append(rv)
        if len(left_cols) == 1:
            right_index: pd.Index = pd.Index(right_cols[0])
            left_keys: pd.Index = pd.Index(left_cols[0])
        else:
            right_index = pd.MultiIndex.from_arrays(right_cols)
            left_keys = pd.MultiIndex.from_arrays(left_cols)
        try:
            positions = right_index.get_indexer(left_keys)
        except TypeError as exc:
            raise ConfigError(f"lookup: the key columns cannot be compared ({exc})") from None
        has_null = pd.concat(left_cols, axis=1).isna().any(axis=1).to_numpy()
        positions[has_null] = -1
        return positions


def _take(values: pd.Series, positions: np.ndarray) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """Values at ``positions``; NULL of the column's kind at -1 (integers stay integers)."""
    array = values.array
    if values.dtype.kind in "iub":
        array = values.astype({"i": "Int64", "u": "UInt64", "b": "boolean"}[values.dtype.kind]).array
    return array.take(positions, allow_fill=True)
