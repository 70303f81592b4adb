"""The 'dedupe' step: drop repeated rows (by key columns or the whole row) across the whole run."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import steps
from etl_studio.core.rows import select_rows
from etl_studio.core.steps._columns import require_columns, visible
from etl_studio.core.steps._keys import SeenKeys, first_occurrences, key_hashes
from etl_studio.core.steps.base import Step
from etl_studio.core.steps.row_errors import error_free


class DedupeConfig(PluginConfig):
    columns: list[str] = Field(
        default_factory=list, description="Key columns; rows with equal values in all of them are duplicates. Empty: the whole row."
    )
    keep: Literal["first", "last"] = Field(
        default="first",
        description="Which row of each key survives: 'first' streams; 'last' holds one row per key until the end.",
    )


@steps.register("dedupe")
class Dedupe(Step):
    """Keys are compared as they are, NULL equal to NULL (as SQL's DISTINCT does)."""

    config_model = DedupeConfig
    title = "Remove duplicates"
    description = "Keep one row per key (or per identical row) across the whole run, the first or the last one."
    config: DedupeConfig

    def __init__(self, config: DedupeConfig, context) -> None:  # type: ignore[no-untyped-def]
        super().__init__(config, context)
        # keep='last' cannot emit a row until no later duplicate can come.
        self.needs_all_rows = config.keep == "last"
        self._seen = SeenKeys()
        self._held: pd.DataFrame | None = None
        self._held_hashes = np.empty(0, dtype=np.uint64)

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns("dedupe", self.config.columns, columns)
        return list(columns)

    def _keys(self, chunk: pd.DataFrame) -> np.ndarray:
        self.output_columns(list(chunk.columns))
        names = self.config.columns or visible(chunk.columns)
        return key_hashes(chunk[names])

    def process(self, chunk: pd.DataFrame) -> pd.DataFrame:
        # Rows an earlier step failed go on to quarantine untouched and claim no key: otherwise
        # a failed first row would make its good duplicates vanish with it.
        failed = ~error_free(chunk).to_numpy(dtype=bool)
        hashes = self._keys(chunk)
        if self.config.keep == "first":
            first_here, distinct, key_of_row = first_occurrences(hashes[~failed])
            # asked once per distinct key, in sorted order (a far faster search than row by row)
            seen_before = self._seen.contains(distinct)
            fresh = np.zeros(len(chunk), dtype=bool)
            fresh[~failed] = first_here & ~seen_before[key_of_row]
            self._seen.add_unique_sorted(distinct[~seen_before])
            keep = fresh | failed
            return select_rows(chunk, keep)
        # keep='last': the held frame has one row per key; a later row replaces it.
        good = chunk[~failed]
        held = good if self._held is None else pd.concat([self._held, good])
        all_hashes = np.concatenate([self._held_hashes, hashes[~failed]])
        last = ~pd.Series(all_hashes).duplicated(keep="last").to_numpy()
        self._held, self._held_hashes = held[last], all_hashes[last]
        return chunk[failed]

    def finish(self) -> pd.DataFrame | None:
        if self.config.keep == "first" or self._held is None:
            return None
        held, self._held = self._held, None
        self._held_hashes = np.empty(0, dtype=np.uint64)
        return held
