"""The Source contract: read_chunks() yields DataFrames of at most chunk_size rows."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd

from etl_studio.core.plugin_base import Plugin, PluginConfig


@dataclass(frozen=True)
class SourceColumn:
    name: str
    type: str  # inferred, in the target type vocabulary ("string", "integer", "decimal(10,2)" ...)
    samples: tuple[str, ...] = field(default_factory=tuple)


class Source(Plugin[PluginConfig]):
    """Reads data. Text sources (CSV) yield text columns: casting is the mapping's job,
    so codes such as '01' are never silently turned into numbers."""

    @abstractmethod
    def read_chunks(self, chunk_size: int, limit: int | None = None) -> Iterator[pd.DataFrame]:
        """Yield chunks in source order; stop after ``limit`` rows when it is given.

        Call ``self.context.check_cancelled()`` between chunks. Raise ConfigError for a bad
        setting (missing file, unknown table), TransientError for a dropped connection.
        """

    def columns(self, sample_rows: int = 100) -> list[SourceColumn]:
        """Column names with an inferred type and a few sample values (for the editor and validate)."""
        from etl_studio.core.sources.inference import describe_columns

        for chunk in self.read_chunks(sample_rows, limit=sample_rows):
            return describe_columns(chunk)
        return []

    def estimate_rows(self) -> int | None:
        """Total rows if cheaply known (for progress %), else None."""
        return None
