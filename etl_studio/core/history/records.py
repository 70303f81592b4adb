"""RunRecord and its state machine: queued -> running -> succeeded | failed | cancelled | interrupted."""

from __future__ import annotations

import enum
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


class RunStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def is_final(self) -> bool:
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)


_ALLOWED: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.QUEUED: frozenset({RunStatus.RUNNING, RunStatus.CANCELLED, RunStatus.INTERRUPTED}),
    RunStatus.RUNNING: frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.INTERRUPTED}),
}


class IllegalTransition(RuntimeError):
    pass


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_run_id() -> str:
    return uuid.uuid4().hex


@dataclass
class RunRecord:
    pipeline: str
    trigger: str = "manual"  # manual | schedule | cli | dependency | backfill
    run_id: str = field(default_factory=new_run_id)
    status: RunStatus = RunStatus.QUEUED
    created_at: datetime = field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    rows_read: int = 0
    rows_quarantined: int = 0
    rows_loaded: int = 0
    error: str | None = None
    # invalid_input | ConnectionFailedError | DataError | TransientError | internal: how it failed
    error_kind: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    # Who runs it, so that start-up reconciliation never touches a live run of another process.
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)

    def move_to(self, status: RunStatus, *, error: str | None = None) -> None:
        if status not in _ALLOWED.get(self.status, frozenset()):
            raise IllegalTransition(f"run {self.run_id}: cannot go from {self.status.value} to {status.value}")
        self.status = status
        if status is RunStatus.RUNNING:
            self.started_at = utcnow()
        if status.is_final:
            self.finished_at = utcnow()
            if error is not None:
                self.error = error

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or utcnow()
        return (end - self.started_at).total_seconds()


@dataclass
class RuleResult:
    """One quality rule's outcome in one run."""

    run_id: str
    rule: str
    kind: str
    severity: str
    action: str
    rows_checked: int = 0
    rows_failed: int = 0
    samples: list[str] = field(default_factory=list)  # a few failing values with reasons
    run_level_failure: str | None = None  # e.g. row_count out of range

    @property
    def passed(self) -> bool:
        return self.rows_failed == 0 and self.run_level_failure is None
