"""The Source contract: read_chunks() yields DataFrames of at most chunk_size rows."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

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

    #: Columns the source adds to every row to describe a change rather than a value (change
    #: data capture: ``__op__``, ``__lsn__``, ``__unchanged__``). They pass through the mapping
    #: untouched, as the steps' row-error column does, for a target that applies changes; they
    #: are never columns of the target table.
    change_columns: ClassVar[tuple[str, ...]] = ()
    #: True when ``after_commit`` moves a position kept outside the target (a replication slot).
    #: The runner then also calls it at the start of a run with the last committed watermark,
    #: finishing an advance that a crash between the commit and the advance left undone.
    commits_position: ClassVar[bool] = False
    #: Where the last read ended (CDC: the LSN of the last transaction read completely), for the
    #: control row of the load; None for sources that keep no position of their own.
    watermark: str | None = None

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

    def after_commit(self, watermark: str | None) -> None:
        """Called by the runner once the target committed a load holding ``watermark``; never by preview or plan.

        Must be safe to repeat and never move backwards. Nothing to do for most sources.
        """
