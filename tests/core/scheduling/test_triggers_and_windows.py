"""Fire times as a crontab user reads them, run windows, backfill windows and execution ids."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from etl_studio.core.errors import InvalidInputError
from etl_studio.core.history import RunStatus, open_run_store
from etl_studio.core.project.models import Schedule
from etl_studio.core.scheduling import (
    backfill,
    cron_problem,
    describe,
    execution_id,
    next_fire_times,
    parse_bound,
    parse_step,
    plan_windows,
    window_for_fire,
)
from etl_studio.core.scheduling.backfill import window_statuses
from tests.core.scheduling.conftest import pipeline

BERLIN = ZoneInfo("Europe/Berlin")


def test_weekday_numbers_mean_what_they_mean_in_crontab() -> None:
    # APScheduler 3 counts 0 as Monday; in crontab 1-5 is Monday to Friday and 0 and 7 are Sunday.
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=BERLIN)
    weekdays = next_fire_times(Schedule(cron="0 2 * * 1-5", timezone="Europe/Berlin"), 5, after=saturday)
    assert [t.strftime("%a %d %H:%M") for t in weekdays] == ["Mon 30 02:00", "Tue 01 02:00", "Wed 02 02:00", "Thu 03 02:00", "Fri 04 02:00"]
    assert {t.strftime("%a") for t in next_fire_times(Schedule(cron="0 2 * * 0"), 3, after=saturday)} == {"Sun"}
    assert {t.strftime("%a") for t in next_fire_times(Schedule(cron="0 2 * * 7"), 3, after=saturday)} == {"Sun"}
    assert {t.strftime("%a") for t in next_fire_times(Schedule(cron="0 2 * * mon"), 3, after=saturday)} == {"Mon"}


def test_fire_times_follow_the_schedule_timezone_across_daylight_saving() -> None:
    before_switch = datetime(2026, 3, 27, 12, 0, tzinfo=BERLIN)
    times = next_fire_times(Schedule(cron="0 2 * * *", timezone="Europe/Berlin"), 3, after=before_switch)
    # 2026-03-29 02:00 does not exist in Berlin; the wall-clock time stays 02:00 otherwise.
    assert [t.astimezone(BERLIN).strftime("%d %H:%M") for t in times][0] == "28 02:00"
    assert all(t.astimezone(BERLIN).hour in (2, 3) for t in times)
    utc_offsets = {t.utcoffset() for t in times}
    assert utc_offsets == {timedelta(hours=1), timedelta(hours=2)}


@pytest.mark.parametrize("text, problem", [
    ("0 2 * *", "5 fields"),
    ("61 2 * * *", "not a valid cron expression"),
    ("0 2 * * 9", "out of range"),
    ("", "enter a cron expression"),
])
def test_a_bad_cron_expression_is_explained_in_one_line(text: str, problem: str) -> None:
    message = cron_problem(text)
    assert message is not None and problem in message and "\n" not in message


def test_an_unknown_timezone_is_explained() -> None:
    assert "unknown timezone 'Mars/Olympus'" in (cron_problem("0 2 * * *", "Mars/Olympus") or "")


def test_a_scheduled_run_loads_the_window_between_the_previous_fire_time_and_this_one() -> None:
    now = datetime(2026, 6, 10, 2, 0, 3, tzinfo=BERLIN)
    window = window_for_fire(Schedule(cron="0 2 * * *", timezone="Europe/Berlin"), now)
    assert (window.window_start, window.window_end) == (datetime(2026, 6, 9, 2, 0), datetime(2026, 6, 10, 2, 0))
    assert window.params() == {"run_date": date(2026, 6, 9), "window_start": window.window_start, "window_end": window.window_end}
    hourly = window_for_fire(Schedule(interval_seconds=3600), datetime(2026, 6, 10, 5, 30, tzinfo=ZoneInfo("UTC")))
    assert hourly.window_end - hourly.window_start == timedelta(hours=1)


def test_describe_reads_like_a_sentence() -> None:
    text = describe(Schedule(cron="0 2 * * *", timezone="Europe/Berlin", retries=2, timeout_seconds=3600, sla="06:00"))
    assert text == "cron 0 2 * * * (Europe/Berlin), 2 retries, timeout 1 h, SLA 06:00"
    assert describe(Schedule(interval_seconds=900, enabled=False)) == "every 15 min (UTC), disabled"


def test_backfill_windows_cover_the_days_asked_for_the_last_one_included() -> None:
    windows = plan_windows(parse_bound("2024-01-30", end=False), parse_bound("2024-02-02", end=True), parse_step("1d"))
    assert [w.run_date.isoformat() for w in windows] == ["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"]
    six_hourly = plan_windows(parse_bound("2024-01-01", end=False), parse_bound("2024-01-01", end=True), parse_step("6h"))
    assert [w.window_start.hour for w in six_hourly] == [0, 6, 12, 18]
    assert parse_step("15min") == timedelta(minutes=15) and parse_step("1w") == timedelta(weeks=1)
    with pytest.raises(InvalidInputError, match="--step"):
        parse_step("0d")
    with pytest.raises(InvalidInputError, match="--from '31.01.2024'"):
        parse_bound("31.01.2024", end=False)


def test_the_same_window_always_has_the_same_execution_id() -> None:
    a, b = plan_windows(datetime(2024, 1, 1), datetime(2024, 1, 3), timedelta(days=1))
    assert execution_id("orders", a) == execution_id("orders", a)
    assert len({execution_id("orders", a), execution_id("orders", b), execution_id("customers", a)}) == 3


def test_a_backfill_skips_completed_windows_and_stops_at_the_first_failure(make_project, tmp_path: Path) -> None:
    project, path = make_project(pipeline("daily"))
    store = open_run_store(None, path.parent)
    try:
        windows = plan_windows(datetime(2024, 1, 1), datetime(2024, 1, 4), timedelta(days=1))
        first = backfill(project, "daily", windows[:2], project_dir=path.parent, store=store)
        assert [o.status for o in first] == ["succeeded", "succeeded"]
        (tmp_path / "daily.csv").unlink()  # the source disappears before the third window

        second = backfill(project, "daily", windows, project_dir=path.parent, store=store)

        assert [o.status for o in second] == ["skipped", "skipped", "failed"]
        statuses = window_statuses(store, "daily")
        assert statuses[execution_id("daily", windows[2])][0] == "failed"
        runs = store.list_runs("daily")
        assert len(runs) == 3 and {r.trigger for r in runs} == {"backfill"}
        assert sorted(r.params["run_date"] for r in runs if r.status is RunStatus.SUCCEEDED) == ["2024-01-01", "2024-01-02"]
    finally:
        store.dispose()
