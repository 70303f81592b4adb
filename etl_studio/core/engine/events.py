"""What a run reports while it goes: progress, log lines, the finished record (GUI and CLI listen)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from etl_studio.core.history.records import RunRecord


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    pipeline: str
    trigger: str
    rows_total: int | None


@dataclass(frozen=True)
class RunProgress:
    run_id: str
    pipeline: str
    rows_done: int
    rows_total: int | None  # None when the source cannot tell cheaply
    elapsed_seconds: float

    @property
    def fraction(self) -> float | None:
        if not self.rows_total:
            return None
        return min(1.0, self.rows_done / self.rows_total)

    @property
    def remaining_seconds(self) -> float | None:
        fraction = self.fraction
        if fraction is None or fraction <= 0:
            return None
        return self.elapsed_seconds * (1 - fraction) / fraction


@dataclass(frozen=True)
class RunLogLine:
    run_id: str
    pipeline: str
    time: datetime
    level: str  # DEBUG, INFO, WARNING, ERROR
    message: str


@dataclass(frozen=True)
class RunFinished:
    record: "RunRecord"


RunEvent = Union[RunStarted, RunProgress, RunLogLine, RunFinished]
Report = Callable[[RunEvent], None]


def ignore(_event: RunEvent) -> None:
    """The default report: nobody listens."""
