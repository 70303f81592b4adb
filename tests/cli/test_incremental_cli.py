"""`etl-studio watermark` and `etl-studio plan` on a copy of the incremental example, as a data engineer types them."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "resources" / "examples" / "incremental"


def etl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "etl_studio", *args], cwd=REPO, capture_output=True, text=True, timeout=180)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "incremental"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("*.db", ".etl_studio"))
    return folder / "incremental.etlproj"


def rows(project: Path) -> int:
    with sqlite3.connect(project.parent / "warehouse.db") as conn:
        return conn.execute("select count(*) from dim_customers").fetchone()[0]


def test_watermark_shows_sets_and_resets(project: Path) -> None:
    shown = etl("watermark", str(project))
    assert shown.returncode == 0 and "no watermark yet" in shown.stdout and "reads every row" in shown.stdout
    assert etl("run", str(project)).returncode == 0
    shown = etl("watermark", str(project), "--pipeline", "dim_customers")
    assert shown.returncode == 0 and "watermark 2024-01-09T14:00:00 (updated_at, timestamp), set by run" in shown.stdout

    moved = etl("watermark", str(project), "--set", "2024-01-07 00:00")
    assert moved.returncode == 0 and "set to 2024-01-07T00:00:00 (was 2024-01-09T14:00:00)" in moved.stdout
    rerun = etl("run", str(project))
    assert rerun.returncode == 0 and "3 read" in rerun.stdout  # customers 3, 4 and 5 again: unchanged, no new versions
    assert rows(project) == 5

    reset = etl("watermark", str(project), "--reset")
    assert reset.returncode == 0 and "reset (was 2024-01-09T14:00:00)" in reset.stdout
    assert "no watermark yet" in etl("watermark", str(project)).stdout


def test_watermark_refuses_bad_values_and_non_incremental_pipelines(project: Path, tmp_path: Path) -> None:
    bad = etl("watermark", str(project), "--set", "yesterday")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "not a valid timestamp watermark" in bad.stderr
    assert etl("watermark", str(project), "--reset", "--set", "1").returncode == 2
    unknown = etl("watermark", str(project), "--pipeline", "nope")
    assert unknown.returncode == 2 and "no pipeline named 'nope'" in unknown.stderr
    demo = REPO / "resources" / "examples" / "orders"
    shutil.copytree(demo, tmp_path / "orders", ignore=shutil.ignore_patterns("*.db", ".etl_studio"))
    plain = etl("watermark", str(tmp_path / "orders" / "orders.etlproj"), "--pipeline", "customers")
    assert plain.returncode == 2 and "is not incremental" in plain.stderr


def test_plan_reports_what_the_load_would_do_and_commits_nothing(project: Path) -> None:
    assert etl("run", str(project)).returncode == 0
    with (project.parent / "customers.csv").open("a", encoding="utf-8") as handle:
        handle.write("6,Barbara Liskov,barbara@example.com,US,2024-02-01 09:00:00\n")
        handle.write("3,Alan Turing,alan.turing@example.org,GB,2024-02-02 12:00:00\n")
    plan = etl("plan", str(project), "--sql")
    assert plan.returncode == 0, plan.stderr
    assert "2 row(s) read; the load would do: 2 to insert, 1 to expire (nothing was committed)" in plan.stdout
    assert "2024-01-09T14:00:00 -> 2024-02-02T12:00:00" in plan.stdout
    assert "expire (sample of 1):" in plan.stdout and "alan@example.com" in plan.stdout
    assert "UPDATE dim_customers SET valid_to" in plan.stdout
    assert rows(project) == 5
    assert "watermark 2024-01-09T14:00:00" in etl("watermark", str(project)).stdout
