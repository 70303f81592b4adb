"""Alerts reach a real SMTP server and a real webhook server on 127.0.0.1; SLA misses are recorded once and notified."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from etl_studio.core.history import RunRecord, RunStatus
from etl_studio.core.project import load_project
from etl_studio.core.project.models import EmailNotification, Notifications, Schedule, WebhookNotification
from etl_studio.core.scheduling import Notifier, SchedulerService
from etl_studio.core.scheduling.notify import run_notice
from etl_studio.core.scheduling.state import sla_misses
from tests.core.scheduling.conftest import pipeline

WAIT = 30.0


def notifications(smtp_server, on: list[str]) -> Notifications:
    return Notifications(
        email=EmailNotification(smtp_host=smtp_server.host, smtp_port=smtp_server.port, sender="etl@example.com",
                                to=["oncall@example.com", "data@example.com"], starttls=False),
        webhooks=[WebhookNotification(url="${ETL_TEST_HOOK_URL}")],
        on=on,  # type: ignore[arg-type]
    )


def test_a_failed_scheduled_run_is_mailed_and_posted_to_the_webhook(make_project, services, smtp_server, http_server,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETL_TEST_HOOK_URL", http_server.url)
    project, path = make_project(pipeline("invoices", schedule=Schedule(interval_seconds=1)), missing=("invoices.csv",),
                                 notifications=notifications(smtp_server, ["failure"]))
    assert "${ETL_TEST_HOOK_URL}" in path.read_text()  # the file holds the reference, not the URL
    service = SchedulerService(load_project(path), path.parent)
    services.append(service)
    service.start()

    assert smtp_server.received.wait(WAIT), "no e-mail arrived"
    assert http_server.received.wait(WAIT), "no webhook call arrived"
    service.stop()

    mail = smtp_server.messages[0]
    assert mail["from"] == "<etl@example.com>" and mail["to"] == ["<oncall@example.com>", "<data@example.com>"]
    assert "Subject: [ETL Studio] Scheduling test: 'invoices' failed" in mail["data"]
    assert "CSV file not found" in mail["data"]
    post = http_server.posts[0]
    assert post["path"] == "/hooks/etl" and post["content_type"] == "application/json"
    body = post["json"]
    assert body["event"] == "failure" and body["pipeline"] == "invoices"
    assert body["text"].startswith("*[ETL Studio] Scheduling test: 'invoices' failed*")  # what Slack shows
    assert body["details"]["trigger"] == "schedule" and body["details"]["status"] == "failed"


def test_success_is_only_notified_when_asked_for(smtp_server, http_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETL_TEST_HOOK_URL", http_server.url)
    record = RunRecord(pipeline="orders", trigger="schedule")
    record.move_to(RunStatus.RUNNING)
    record.move_to(RunStatus.SUCCEEDED)
    record.rows_loaded = 455

    assert Notifier(notifications(smtp_server, ["failure"])).send(run_notice("Demo", record)) == []
    assert not smtp_server.messages and not http_server.posts

    assert Notifier(notifications(smtp_server, ["failure", "success"])).send(run_notice("Demo", record)) == []
    assert "'orders' loaded 455 rows" in smtp_server.messages[0]["data"]
    assert http_server.posts[0]["json"]["event"] == "success"


def test_an_unreachable_channel_is_reported_not_raised_and_the_secret_url_not_shown(smtp_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETL_TEST_HOOK_URL", "http://127.0.0.1:9/secret-token-abc")
    record = RunRecord(pipeline="orders")
    record.move_to(RunStatus.RUNNING)
    record.move_to(RunStatus.FAILED, error="boom")

    problems = Notifier(notifications(smtp_server, ["failure"])).send(run_notice("Demo", record))

    assert len(problems) == 1 and problems[0].startswith("webhook ${ETL_TEST_HOOK_URL}:")
    assert "secret-token-abc" not in problems[0]
    assert smtp_server.messages  # the e-mail still went out


def test_an_sla_miss_is_recorded_once_and_notified(make_project, services, smtp_server, http_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETL_TEST_HOOK_URL", http_server.url)
    schedule = Schedule(cron="0 2 * * *", timezone="Europe/Berlin", sla="06:00")
    project, path = make_project(pipeline("orders", schedule=schedule), notifications=notifications(smtp_server, ["failure", "sla_miss"]))
    service = SchedulerService(project, path.parent)
    services.append(service)
    service.start()
    # 06:30 in Berlin (winter: UTC+1), and nothing loaded that day.
    half_past_six = datetime(2026, 1, 15, 5, 30, tzinfo=timezone.utc)

    miss = service.check_sla("orders", now=half_past_six)

    assert miss is not None and miss.due_at == datetime(2026, 1, 15, 5, 0, tzinfo=timezone.utc)
    assert smtp_server.received.wait(WAIT) and http_server.received.wait(WAIT)
    assert "missed its SLA (06:00 Europe/Berlin)" in smtp_server.messages[0]["data"]
    assert http_server.posts[0]["json"]["event"] == "sla_miss"
    assert service.check_sla("orders", now=half_past_six + timedelta(minutes=5)) is not None
    recorded = sla_misses(service.store.engine, "orders")  # type: ignore[union-attr]
    assert [m.due_at for m in recorded] == [miss.due_at]
    assert len(smtp_server.messages) == 1  # the second check found it recorded: no second alert


def test_a_run_that_finished_before_the_deadline_meets_the_sla(make_project, services) -> None:
    project, path = make_project(pipeline("orders", schedule=Schedule(cron="0 2 * * *", timezone="UTC", sla="06:00")))
    service = SchedulerService(project, path.parent)
    services.append(service)
    service.start()
    loaded = RunRecord(pipeline="orders", trigger="schedule")
    loaded.move_to(RunStatus.RUNNING)
    loaded.move_to(RunStatus.SUCCEEDED)
    loaded.started_at = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)
    loaded.finished_at = datetime(2026, 3, 2, 2, 4, tzinfo=timezone.utc)
    service.store.save_run(loaded)  # type: ignore[union-attr]

    assert service.check_sla("orders", now=datetime(2026, 3, 2, 6, 30, tzinfo=timezone.utc)) is None
    next_day = service.check_sla("orders", now=datetime(2026, 3, 3, 6, 30, tzinfo=timezone.utc))
    assert next_day is not None and next_day.last_success_at == loaded.finished_at


def test_the_sla_check_is_scheduled_at_the_deadline_in_the_schedule_timezone(make_project, services) -> None:
    project, path = make_project(pipeline("orders", schedule=Schedule(cron="0 2 * * *", timezone="America/New_York", sla="06:15")))
    service = SchedulerService(project, path.parent)
    services.append(service)
    service.start()
    job = service._scheduler.get_job("sla:orders")  # type: ignore[union-attr]
    assert job is not None
    local = job.next_run_time.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (6, 15)


def test_notification_settings_are_optional_and_a_project_without_them_round_trips(tmp_path: Path) -> None:
    from etl_studio.core.project import Project, dumps_project, loads_project

    text = dumps_project(Project(name="x"))
    assert "notifications" not in text and loads_project(text).notifications is None
    with pytest.raises(Exception, match="reference"):
        EmailNotification(smtp_host="h", sender="a@b", to=["c@d"], password="hunter2")
