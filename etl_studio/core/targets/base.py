"""The Target contract: open a load session, write chunks, commit data and control row together."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
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


class LoadSession(ABC):
    """One run's load. Nothing is visible to readers of the target before commit()."""

    @abstractmethod
    def write(self, chunk: pd.DataFrame) -> int:
        """Load one chunk (columns already cast to the mapping's types); return rows written."""

    @abstractmethod
    def commit(self, control: ControlRecord) -> None:
        """Write the control row and commit, in one transaction (or rename, for files)."""

    @abstractmethod
    def rollback(self) -> None:
        """Leave the target exactly as it was. Safe to call twice or after a failed write."""


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
