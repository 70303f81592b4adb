"""`etl-studio serve | schedule | backfill` as an engineer runs them: real processes, signals, kills and exit codes."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from etl_studio.core.project import Connection, Pipeline, PluginSpec, Project, TargetColumn, save_project
from etl_studio.core.project.models import Schedule

REPO = Path(__file__).resolve().parents[2]
WAIT = 60.0


def etl(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "etl_studio", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


class Running:
    """A background `etl-studio` process whose output lines the test can wait for."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "etl_studio", *args], cwd=REPO, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for_line(self, text: str, timeout: float = WAIT) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: any(text in line for line in self.lines) or self.process.poll() is not None
                                          and not self._reader.is_alive(), timeout) and any(text in line for line in self.lines)

    def finish(self, timeout: float = WAIT) -> int:
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        return code

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(WAIT)


@pytest.fixture
def processes() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for running in started:
        running.kill()


def make_project(folder: Path, *, rows: int = 50, chunk_size: int | None = None, schedule: Schedule | None = None,
                 mode: str = "replace") -> Path:
    with (folder / "sales.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "amount"])
        writer.writerows([i, f"{i % 997}.50"] for i in range(rows))
    project = Project(
        name="Sales",
        connections=[Connection(name="warehouse", url="sqlite:///warehouse.db")],
        pipelines=[Pipeline(
            name="sales",
            source=PluginSpec(kind="csv_file", config={"path": "sales.csv"}),
            mapping=[TargetColumn(name="id", type="integer", source="id", nullable=False),
                     TargetColumn(name="amount", type="decimal(10,2)", source="amount"),
                     TargetColumn(name="day", type="date", expr=":run_date")],
            target=PluginSpec(kind="sql_table", config={"connection": "warehouse", "table": "sales", "mode": mode}),
            schedule=schedule,
            chunk_size=chunk_size,
        )],
    )
    return save_project(project, folder / "sales.etlproj")


def state_rows(project: Path, query: str) -> list[tuple]:
    with sqlite3.connect(project.parent / ".etl_studio" / "state.db", timeout=30) as conn:
        return conn.execute(query).fetchall()


def test_a_second_serve_of_the_same_project_refuses_to_start_and_names_the_holder(tmp_path: Path, processes: list[Running]) -> None:
    project = make_project(tmp_path, schedule=Schedule(cron="0 2 * * *"))
    first = Running("serve", str(project))
    processes.append(first)
    assert first.wait_for_line("serving 1 schedule(s)"), first.output

    second = etl("serve", str(project), timeout=WAIT)

    assert second.returncode == 2, second.stdout + second.stderr
    assert f"already run by serve (pid {first.process.pid} on " in second.stderr and "since" in second.stderr
    assert "Traceback" not in second.stderr
    first.process.send_signal(signal.SIGTERM)
    assert first.finish() == 0 and "stopped" in first.output


def test_serve_runs_the_schedule_and_logs_to_stdout_and_the_state_database(tmp_path: Path, processes: list[Running]) -> None:
    project = make_project(tmp_path, schedule=Schedule(interval_seconds=1))
    serve = Running("serve", str(project))
    processes.append(serve)
    assert serve.wait_for_line("'sales' succeeded (schedule)"), serve.output
    serve.process.send_signal(signal.SIGINT)
    assert serve.finish() == 0
    assert "run finished: 50 read, 0 quarantined, 50 loaded" in serve.output
    runs = state_rows(project, "select trigger, status from runs")
    assert ("schedule", "succeeded") in runs
    assert state_rows(project, "select count(*) from run_logs")[0][0] > 0
    assert state_rows(project, "select count(*) from scheduler_events where message like 'scheduler started%'")[0][0] == 1


def _serve_until_a_run_is_going(tmp_path: Path, processes: list[Running], *extra: str) -> tuple[Path, Running]:
    # Many small chunks: the run takes seconds, so the signal arrives in the middle of it.
    project = make_project(tmp_path, rows=300_000, chunk_size=2_000, schedule=Schedule(interval_seconds=1))
    serve = Running("serve", str(project), *extra)
    processes.append(serve)
    assert serve.wait_for_line("of 'sales' started (trigger: schedule)"), serve.output
    serve.process.send_signal(signal.SIGTERM)
    assert serve.finish() == 0, serve.output
    return project, serve


def test_sigterm_waits_for_the_running_run_to_finish(tmp_path: Path, processes: list[Running]) -> None:
    project, serve = _serve_until_a_run_is_going(tmp_path, processes)
    assert "stopping: waiting for sales" in serve.output
    assert state_rows(project, "select status, rows_loaded from runs") == [("succeeded", 300_000)]


def test_sigterm_with_cancel_on_stop_cancels_the_run_and_loads_nothing(tmp_path: Path, processes: list[Running]) -> None:
    project, serve = _serve_until_a_run_is_going(tmp_path, processes, "--cancel-on-stop")
    assert "stopping: cancelling sales" in serve.output
    assert state_rows(project, "select status from runs") == [("cancelled",)]
    with sqlite3.connect(project.parent / "warehouse.db") as conn:
        assert conn.execute("select count(*) from sqlite_master where name = 'sales'").fetchone()[0] == 0


def test_schedule_lists_each_pipeline_and_its_next_five_fire_times(tmp_path: Path) -> None:
    project = make_project(tmp_path, schedule=Schedule(cron="30 6 * * 1-5", timezone="Europe/Berlin", sla="09:00"))
    result = etl("schedule", str(project))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "sales: cron 30 6 * * 1-5 (Europe/Berlin), SLA 09:00"
    times = lines[1:6]
    assert len(times) == 5 and all("06:30:00 CE" in t for t in times)  # CET or CEST
    assert not any("(Sat)" in t or "(Sun)" in t for t in times)


def test_a_backfill_killed_half_way_resumes_without_repeating_finished_windows(tmp_path: Path, processes: list[Running]) -> None:
    project = make_project(tmp_path, rows=20_000, chunk_size=1_000, mode="append")
    args = ("backfill", str(project), "--pipeline", "sales", "--from", "2024-01-01", "--to", "2024-01-20")
    first = Running(*args)
    processes.append(first)
    assert first.wait_for_line("3/20 "), first.output
    first.process.send_signal(signal.SIGKILL)  # no clean-up at all, as a power cut would do
    first.finish()
    done_before = dict(state_rows(project, "select window_start, run_id from backfill_windows where status = 'succeeded'"))
    assert 3 <= len(done_before) < 20, first.output

    second = etl(*args, timeout=300)

    assert second.returncode == 0, second.stdout + second.stderr
    assert f"done: 20 window(s), {20 - len(done_before)} run now, {len(done_before)} done before" in second.stdout
    assert second.stdout.count("already done") == len(done_before)
    after = dict(state_rows(project, "select window_start, run_id from backfill_windows where status = 'succeeded'"))
    assert len(after) == 20
    assert {w: after[w] for w in done_before} == done_before  # finished windows kept their runs
    succeeded = state_rows(project, "select count(*) from runs where trigger = 'backfill' and status = 'succeeded'")[0][0]
    assert succeeded == 20
    with sqlite3.connect(project.parent / "warehouse.db") as conn:
        per_day = conn.execute("select day, count(*) from sales group by day order by day").fetchall()
    assert len(per_day) == 20 and {count for _day, count in per_day} == {20_000}  # each window loaded exactly once


def test_backfill_with_bad_dates_is_a_one_line_error_with_exit_code_2(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    result = etl("backfill", str(project), "--pipeline", "sales", "--from", "2024-02-01", "--to", "2024-01-01")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --to 2024-01-01 is before --from 2024-02-01"
    result = etl("backfill", str(project), "--pipeline", "nope", "--from", "2024-01-01", "--to", "2024-01-02")
    assert result.returncode == 2 and "no pipeline named 'nope'" in result.stderr
