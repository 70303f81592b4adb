"""The scheduler's own tables in the state database: its event log, SLA misses and backfill windows."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from etl_studio.core.history.store import create_tables

JOBS_TABLE = "scheduler_jobs"  # APScheduler's job store (next run times)

metadata = sa.MetaData()

events_table = sa.Table(
    "scheduler_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("time", sa.DateTime, nullable=False, index=True),
    sa.Column("level", sa.String(10), nullable=False),
    sa.Column("pipeline", sa.String(255)),
    sa.Column("message", sa.Text, nullable=False),
)

sla_misses_table = sa.Table(
    "sla_misses", metadata,
    sa.Column("pipeline", sa.String(255), primary_key=True),
    sa.Column("due_at", sa.DateTime, primary_key=True),  # UTC
    sa.Column("sla", sa.String(5), nullable=False),  # as written, HH:MM in the schedule's timezone
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("detected_at", sa.DateTime, nullable=False),
    sa.Column("last_success_at", sa.DateTime),
)

backfill_table = sa.Table(
    "backfill_windows", metadata,
    sa.Column("execution_id", sa.String(64), primary_key=True),
    sa.Column("pipeline", sa.String(255), nullable=False, index=True),
    sa.Column("window_start", sa.DateTime, nullable=False),
    sa.Column("window_end", sa.DateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | running | succeeded | failed | cancelled
    sa.Column("run_id", sa.String(32)),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

_created: set[int] = set()
_created_lock = threading.Lock()


def ensure_tables(engine: sa.Engine) -> None:
    """Create the scheduler's tables once per engine (create_all is idempotent, just not free)."""
    with _created_lock:
        if id(engine) in _created:
            return
        create_tables(metadata, engine)
        _created.add(id(engine))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def naive_utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def as_utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def record_event(engine: sa.Engine, level: str, message: str, pipeline: str | None = None) -> None:
    ensure_tables(engine)
    with engine.begin() as conn:
        conn.execute(events_table.insert().values(time=naive_utc(utcnow()), level=level, pipeline=pipeline, message=message))


def recent_events(engine: sa.Engine, limit: int = 100) -> list[dict[str, Any]]:
    ensure_tables(engine)
    t = events_table
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).order_by(t.c.id.desc()).limit(limit)).all()
    return [dict(r._mapping, time=as_utc(r.time)) for r in rows]


@dataclass(frozen=True)
class SlaMiss:
    pipeline: str
    due_at: datetime  # aware UTC
    sla: str
    timezone: str
    detected_at: datetime
    last_success_at: datetime | None


def record_sla_miss(engine: sa.Engine, miss: SlaMiss) -> bool:
    """Store a miss; False when it was already recorded (the check ran twice for one deadline)."""
    ensure_tables(engine)
    t = sla_misses_table
    with engine.begin() as conn:
        exists = conn.execute(
            sa.select(t.c.pipeline).where(t.c.pipeline == miss.pipeline, t.c.due_at == naive_utc(miss.due_at))
        ).first()
        if exists:
            return False
        conn.execute(t.insert().values(
            pipeline=miss.pipeline, due_at=naive_utc(miss.due_at), sla=miss.sla, timezone=miss.timezone,
            detected_at=naive_utc(miss.detected_at),
            last_success_at=naive_utc(miss.last_success_at) if miss.last_success_at else None,
        ))
    return True


def sla_misses(engine: sa.Engine, pipeline: str | None = None) -> list[SlaMiss]:
    ensure_tables(engine)
    t = sla_misses_table
    query = sa.select(t).order_by(t.c.due_at.desc())
    if pipeline is not None:
        query = query.where(t.c.pipeline == pipeline)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [SlaMiss(r.pipeline, as_utc(r.due_at), r.sla, r.timezone, as_utc(r.detected_at), as_utc(r.last_success_at))  # type: ignore[arg-type]
            for r in rows]
