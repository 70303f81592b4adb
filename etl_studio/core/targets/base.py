"""The Target contract: open a load session, write chunks, commit data and control row together."""

from __future__ import annotations

from typing import Any

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from etl_studio.core.plugin_base import Plugin, PluginConfig
from etl_studio.core.project.models import TargetColumn

CONTROL_TABLE = "etl_studio_loads"


@dataclass(frozen=True)
class ControlRecord:
    """Written in the load's own transaction: the proof that a run's data committed."""

    run_id: str
    pipeline: str
    started_at: datetime
    rows_loaded: int
    watermark: str | None = None
    # Set for a run of a named window (pipeline + window): a second commit of it is refused.
    execution_id: str | None = None


PLAN_KINDS = ("insert", "update", "expire", "delete", "unchanged", "reject")


@dataclass
class PlannedChanges:
    """What a load would do to the target: rows per kind (insert, update, expire ...) and a few of each."""

    counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, kind: str, count: int, sample: pd.DataFrame | None = None) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + count
        if sample is not None and len(sample):
            before = self.samples.get(kind)
            self.samples[kind] = sample if before is None else pd.concat([before, sample], ignore_index=True)


class LoadSession(ABC):
    """One run's load. Nothing is visible to readers of the target before commit()."""

    # True when write() may run on another thread than open(), commit() and rollback() (never
    # at the same time as them): the engine then writes chunk N while it prepares chunk N+1.
    threaded_writes = False

    def prepare_chunk(self, chunk: pd.DataFrame) -> Any:
        """Work on a chunk that may happen on the run's thread before write() takes it on the writer's
        (a database's wire format): what this returns is what write() gets. By default the chunk itself."""
        return chunk

    @abstractmethod
    def write(self, chunk: Any) -> int:
        """Load one chunk (columns already cast to the mapping's types), as prepare_chunk() left it; return rows written."""

    @abstractmethod
    def commit(self, control: ControlRecord) -> None:
        """Write the control row and commit, in one transaction (or rename, for files)."""

    @abstractmethod
    def rollback(self) -> None:
        """Leave the target exactly as it was. Safe to call twice or after a failed write."""

    def plan(self) -> PlannedChanges | None:
        """What commit() would do, counted without doing it (None if the target cannot tell)."""
        return None


class Target(Plugin[PluginConfig]):
    @abstractmethod
    def schema_differences(self, columns: list[TargetColumn]) -> list[str]:
        """Every difference between the existing target and the mapping, one line each;
        empty when they agree or the target does not exist yet (and will be created)."""

    @abstractmethod
    def open(self, columns: list[TargetColumn], run_id: str) -> LoadSession:
        """Start a load (begin a transaction, create the table if allowed and missing)."""

    def describe_load(self, columns: list[TargetColumn]) -> str:
        """What will run, for the target editor: the DDL and the kind of statement."""
        return ""

    def committed_runs(self, pipeline: str) -> set[str] | None:
        """Run ids whose load committed (read from the control table); None if unknown."""
        return None

    def committed_load(self, run_id: str) -> ControlRecord | None:
        """The control row of a committed run (its watermark included); None if absent or unknown."""
        return None

    def committed_execution(self, pipeline: str, execution_id: str) -> str | None:
        """The run id that already committed this execution (pipeline + window); None if none did."""
        return None
