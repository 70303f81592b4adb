"""WatermarkStore: each pipeline's last committed watermark, in the state database (SQL) or in memory."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from etl_studio.core.history.store import create_tables

WATERMARK_TABLE = "watermarks"


@dataclass(frozen=True)
class Watermark:
    """How far a pipeline has read: the largest value of its incremental column that committed."""

    pipeline: str
    value: str
    run_id: str | None  # the run whose commit set it; None when set by hand
    updated_at: datetime  # UTC


class WatermarkStore(Protocol):
    def get(self, pipeline: str) -> Watermark | None: ...
    def set(self, pipeline: str, value: str, run_id: str | None = None, *, at: datetime | None = None) -> Watermark: ...
    def reset(self, pipeline: str) -> None: ...


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class InMemoryWatermarkStore:
    """For tests and in-memory run stores: the same contract, nothing on disk."""

    def __init__(self) -> None:
        self._marks: dict[str, Watermark] = {}
        self._lock = threading.Lock()

    def get(self, pipeline: str) -> Watermark | None:
        return self._marks.get(pipeline)

    def set(self, pipeline: str, value: str, run_id: str | None = None, *, at: datetime | None = None) -> Watermark:
        mark = Watermark(pipeline, value, run_id, _utc(at or _now()))
        with self._lock:
            self._marks[pipeline] = mark
        return mark

    def reset(self, pipeline: str) -> None:
        with self._lock:
            self._marks.pop(pipeline, None)


class SqlWatermarkStore:
    """The ``watermarks`` table of the state database (its own MetaData, created when missing)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.metadata = sa.MetaData()
        self.table = sa.Table(
            WATERMARK_TABLE,
            self.metadata,
            sa.Column("pipeline", sa.String(255), primary_key=True, autoincrement=False),
            sa.Column("value", sa.Text, nullable=False),
            sa.Column("run_id", sa.String(255), nullable=True),
            sa.Column("updated_at", sa.DateTime, nullable=False),  # UTC
        )
        create_tables(self.metadata, engine)

    def get(self, pipeline: str) -> Watermark | None:
        t = self.table
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.pipeline == pipeline)).first()
        if row is None:
            return None
        return Watermark(row.pipeline, row.value, row.run_id, _utc(row.updated_at))

    def set(self, pipeline: str, value: str, run_id: str | None = None, *, at: datetime | None = None) -> Watermark:
        moment = _utc(at or _now())
        values: dict[str, Any] = {"value": value, "run_id": run_id, "updated_at": moment.replace(tzinfo=None)}
        t = self.table
        with self.engine.begin() as conn:
            updated = conn.execute(t.update().where(t.c.pipeline == pipeline).values(**values))
            if updated.rowcount == 0:
                conn.execute(t.insert().values(pipeline=pipeline, **values))
        return Watermark(pipeline, value, run_id, moment)

    def reset(self, pipeline: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(self.table.delete().where(self.table.c.pipeline == pipeline))


_in_memory: weakref.WeakKeyDictionary[object, InMemoryWatermarkStore] = weakref.WeakKeyDictionary()
_in_memory_lock = threading.Lock()


def watermark_store_for(run_store: object) -> WatermarkStore:
    """The watermarks that live beside a run store: its state database, or memory for an in-memory store."""
    engine = getattr(run_store, "engine", None)
    if isinstance(engine, Engine):
        return SqlWatermarkStore(engine)
    with _in_memory_lock:
        store = _in_memory.get(run_store)
        if store is None:
            store = _in_memory[run_store] = InMemoryWatermarkStore()
        return store
