"""Scheduling: the only package that imports APScheduler — schedules, dependencies, backfill, SLAs and alerts."""

from etl_studio.core.scheduling.backfill import backfill, execution_id, parse_bound, parse_step, plan_windows
from etl_studio.core.scheduling.lock import LockHolder, ProjectLock, SchedulerLocked, lock_path_for
from etl_studio.core.scheduling.notify import Notice, Notifier
from etl_studio.core.scheduling.service import SchedulerService, find_sla_miss
from etl_studio.core.scheduling.triggers import (
    PRESETS,
    RunWindow,
    build_trigger,
    cron_problem,
    describe,
    next_fire_times,
    window_for_fire,
)

__all__ = [
    "PRESETS",
    "LockHolder",
    "Notice",
    "Notifier",
    "ProjectLock",
    "RunWindow",
    "SchedulerLocked",
    "SchedulerService",
    "backfill",
    "build_trigger",
    "cron_problem",
    "describe",
    "execution_id",
    "find_sla_miss",
    "lock_path_for",
    "next_fire_times",
    "parse_bound",
    "parse_step",
    "plan_windows",
    "window_for_fire",
]
