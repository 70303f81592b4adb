"""The one-scheduler-per-project lock: a file lock beside the state database, and who holds it."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy.engine import make_url

from etl_studio.core.errors import InvalidInputError
from etl_studio.core.history.store import STATE_FOLDER

LOCK_NAME = "scheduler.lock"


class SchedulerLocked(InvalidInputError):
    """Another scheduler (``serve`` or the app) already runs this project's schedules: exit code 2."""

    def __init__(self, holder: "LockHolder | None", lock_path: Path) -> None:
        self.holder, self.lock_path = holder, lock_path
        who = holder.describe() if holder else "another process (it left no details)"
        super().__init__(f"the schedules of this project are already run by {who}; stop it first (lock: {lock_path})")


@dataclass(frozen=True)
class LockHolder:
    host: str
    pid: int
    since: str  # ISO time, UTC
    by: str  # "serve" | "app"

    def describe(self) -> str:
        return f"{self.by} (pid {self.pid} on {self.host}, since {self.since})"


def lock_path_for(state_database: str | None, project_dir: Path) -> Path:
    """Beside the SQLite state database; for a server database, in the project's state folder."""
    if state_database:
        try:
            url = make_url(state_database)
        except Exception:  # noqa: BLE001 - a ${VAR} URL is resolved later; the state folder will do
            url = None
        if url is not None and url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            database = Path(url.database)
            if not database.is_absolute():
                database = project_dir / database
            return database.parent / LOCK_NAME
    return project_dir / STATE_FOLDER / LOCK_NAME


class ProjectLock:
    """Held while a scheduler runs; the OS drops it when the process dies, so a crash never leaves it stuck."""

    def __init__(self, path: Path, *, by: str = "serve") -> None:
        self.path = path
        self.info_path = path.with_name(path.name + ".json")
        self.by = by
        self._lock = FileLock(str(path), timeout=0)

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise SchedulerLocked(self.holder(), self.path) from None
        info = LockHolder(socket.gethostname(), os.getpid(), datetime.now(timezone.utc).isoformat(timespec="seconds"), self.by)
        tmp = self.info_path.with_name(self.info_path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(info.__dict__, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.info_path)

    def release(self) -> None:
        if not self._lock.is_locked:
            return
        try:
            if self.holder() == self._own_holder():
                self.info_path.unlink(missing_ok=True)
        finally:
            self._lock.release()

    def _own_holder(self) -> LockHolder | None:
        holder = self.holder()
        return holder if holder and holder.pid == os.getpid() and holder.host == socket.gethostname() else None

    def holder(self) -> LockHolder | None:
        """Who holds the lock, from the sidecar file the holder wrote."""
        try:
            data = json.loads(self.info_path.read_text(encoding="utf-8"))
            return LockHolder(str(data["host"]), int(data["pid"]), str(data["since"]), str(data.get("by", "serve")))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def __enter__(self) -> "ProjectLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
