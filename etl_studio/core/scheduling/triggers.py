"""From a pipeline's Schedule to an APScheduler trigger: fire times, cron checks and each run's time window."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from etl_studio.core.errors import InvalidInputError
from etl_studio.core.project.models import Schedule

PRESETS: dict[str, str] = {
    "hourly": "0 * * * *",
    "daily": "0 2 * * *",
    "weekly": "0 2 * * 1",
}
# How far back previous_fire_time looks before giving up (a yearly cron still fits).
_LOOK_BACK_LIMIT = timedelta(days=800)
# Interval schedules count from a fixed point, so fire times do not shift with every restart.
INTERVAL_ANCHOR = datetime(2000, 1, 1, tzinfo=timezone.utc)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(f"unknown timezone {name!r} (use an IANA name such as Europe/Berlin or UTC)") from None


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _crontab_weekdays(field: str) -> str:
    """Crontab weekday numbers (0 or 7 = Sunday) as names: APScheduler 3 counts 0 as Monday."""
    if field == "*" or any(c.isalpha() for c in field):
        return field  # names mean the same to both
    days: set[int] = set()
    for part in field.split(","):
        spec, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if spec == "*":
            low, high = 0, 6
        elif "-" in spec:
            low_text, high_text = spec.split("-", 1)
            low, high = int(low_text), int(high_text)
        else:
            low = high = int(spec)
            if step_text:
                high = 6
        if not (0 <= low <= 7 and 0 <= high <= 7) or low > high or step < 1:
            raise ValueError(f"weekday {part!r} is out of range (0-7, 0 and 7 are Sunday)")
        days.update(d % 7 for d in range(low, high + 1, step))
    return ",".join(_WEEKDAYS[d] for d in sorted(days))


def cron_trigger(expression: str, tz: ZoneInfo) -> CronTrigger:
    """A crontab line (minute hour day month weekday) with crontab's own weekday numbers."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"a cron expression has 5 fields (minute hour day month weekday), not {len(fields)}")
    minute, hour, day, month, weekday = fields
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=_crontab_weekdays(weekday), timezone=tz)


def cron_problem(expression: str, timezone_name: str = "UTC") -> str | None:
    """Why a cron expression is not valid, in one line, or None. For the editor's as-you-type check."""
    text = expression.strip()
    if not text:
        return "enter a cron expression: minute hour day month weekday, e.g. 0 2 * * *"
    if len(text.split()) != 5:
        return f"a cron expression has 5 fields (minute hour day month weekday), not {len(text.split())}"
    try:
        cron_trigger(text, zone(timezone_name))
    except InvalidInputError as exc:
        return str(exc)
    except (ValueError, KeyError) as exc:
        return f"not a valid cron expression: {exc}"
    return None


def build_trigger(schedule: Schedule) -> BaseTrigger:
    """The APScheduler trigger for a schedule; a clear InvalidInputError for a bad cron or timezone."""
    tz = zone(schedule.timezone)
    if schedule.cron is not None:
        problem = cron_problem(schedule.cron, schedule.timezone)
        if problem:
            raise InvalidInputError(f"schedule cron {schedule.cron!r}: {problem}")
        return cron_trigger(schedule.cron.strip(), tz)
    if schedule.interval_seconds is not None:
        return IntervalTrigger(seconds=schedule.interval_seconds, start_date=INTERVAL_ANCHOR, timezone=tz)
    assert schedule.at is not None
    at = schedule.at if schedule.at.tzinfo else schedule.at.replace(tzinfo=tz)
    return DateTrigger(run_date=at, timezone=tz)


def fingerprint(schedule: Schedule) -> str:
    """Changes whenever anything that decides fire times changes; kept with the stored job."""
    data = schedule.model_dump(mode="json", include={"cron", "interval_seconds", "at", "timezone"})
    return hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def next_fire_times(schedule: Schedule, count: int = 5, *, after: datetime | None = None) -> list[datetime]:
    """The next ``count`` fire times (aware, in the schedule's timezone), after ``after`` (default now)."""
    trigger = build_trigger(schedule)
    now = after or datetime.now(zone(schedule.timezone))
    times: list[datetime] = []
    previous: datetime | None = None
    current = now
    while len(times) < count:
        fire = trigger.get_next_fire_time(previous, current)
        if fire is None:
            break
        if times and fire <= times[-1]:  # a DateTrigger answers its one date again
            break
        times.append(fire)
        previous, current = fire, fire + timedelta(microseconds=1)
    return times


def previous_fire_time(trigger: BaseTrigger, before: datetime) -> datetime | None:
    """The last fire time strictly before ``before`` (APScheduler only looks forward, so step back until found)."""
    if isinstance(trigger, DateTrigger):
        return trigger.run_date if trigger.run_date < before else None
    span = timedelta(minutes=1)
    while span <= _LOOK_BACK_LIMIT:
        fire = trigger.get_next_fire_time(None, before - span)
        if fire is not None and fire < before:
            last = fire
            while True:
                following = trigger.get_next_fire_time(last, last + timedelta(microseconds=1))
                if following is None or following >= before:
                    return last
                last = following
        span *= 4
    return None


@dataclass(frozen=True)
class RunWindow:
    """What a run loads: ``[window_start, window_end)``, naive wall-clock times in the schedule's timezone."""

    window_start: datetime
    window_end: datetime

    @property
    def run_date(self) -> date:
        # As in Airflow's logical date: the day whose data the run loads.
        return self.window_start.date()

    def params(self) -> dict[str, object]:
        return {"run_date": self.run_date, "window_start": self.window_start, "window_end": self.window_end}


def window_for_fire(schedule: Schedule, now: datetime | None = None) -> RunWindow:
    """The window of the run firing now: from the fire time before the latest one up to the latest one."""
    tz = zone(schedule.timezone)
    now = (now or datetime.now(tz)).astimezone(tz)
    trigger = build_trigger(schedule)
    end = previous_fire_time(trigger, now + timedelta(seconds=1)) or now
    start = previous_fire_time(trigger, end)
    if start is None:
        if schedule.interval_seconds is not None:
            start = end - timedelta(seconds=schedule.interval_seconds)
        else:  # a one-off date, or the first cron fire: the day up to it
            start = end.replace(hour=0, minute=0, second=0, microsecond=0)
            if start == end:
                start -= timedelta(days=1)
    return RunWindow(start.astimezone(tz).replace(tzinfo=None), end.astimezone(tz).replace(tzinfo=None))


def describe(schedule: Schedule) -> str:
    """One line an analyst reads: 'cron 0 2 * * * (Europe/Berlin), 2 retries, SLA 06:00'."""
    if schedule.cron is not None:
        what = f"cron {schedule.cron}"
    elif schedule.interval_seconds is not None:
        what = f"every {_seconds_text(schedule.interval_seconds)}"
    else:
        assert schedule.at is not None
        what = f"once at {schedule.at.isoformat(sep=' ')}"
    parts = [f"{what} ({schedule.timezone})"]
    if not schedule.enabled:
        parts.append("disabled")
    if schedule.retries:
        parts.append(f"{schedule.retries} retr{'y' if schedule.retries == 1 else 'ies'}")
    if schedule.timeout_seconds:
        parts.append(f"timeout {_seconds_text(schedule.timeout_seconds)}")
    if schedule.sla:
        parts.append(f"SLA {schedule.sla}")
    return ", ".join(parts)


def _seconds_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{seconds:g} s"
