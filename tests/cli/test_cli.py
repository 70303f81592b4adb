"""The command line as an engineer uses it: real processes, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import copy_demo

REPO = Path(__file__).resolve().parents[2]


def etl(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "etl_studio", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, env=full_env)


def assert_one_line_error(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors, result.stderr


def test_run_prints_a_summary_per_pipeline_and_exits_0(tmp_path: Path) -> None:
    project = copy_demo(tmp_path)
    result = etl("run", str(project))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("customers: succeeded — 60 read")
    assert lines[1].startswith("orders: succeeded — 514 read") and "quarantined" in lines[1] and "loaded in" in lines[1]


def test_run_of_one_pipeline_runs_its_upstream_first(tmp_path: Path) -> None:
    project = copy_demo(tmp_path)
    result = etl("run", str(project), "--pipeline", "orders", "--limit", "100")
    assert result.returncode == 0, result.stderr
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["customers", "orders"]
    assert "100 read" in result.stdout.splitlines()[1]


def test_validate_the_demo_finds_no_problems(tmp_path: Path) -> None:
    result = etl("validate", str(copy_demo(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems" in result.stdout


def test_validate_lists_every_problem_with_its_place(tmp_path: Path) -> None:
    project = copy_demo(tmp_path)
    data = json.loads(project.read_text())
    orders = data["pipelines"][1]
    orders["mapping"][3]["source"] = "customer_emial"
    orders["mapping"][10]["expr"] = "quantity * unit_prize"
    project.write_text(json.dumps(data, indent=2))
    result = etl("validate", str(project))
    assert result.returncode == 2
    assert "pipelines[1].mapping[3].source: unknown column 'customer_emial'" in result.stdout
    assert "pipelines[1].mapping[10].expr" in result.stdout and "unit_prize" in result.stdout
    assert "2 problem(s)" in result.stdout


def test_a_malformed_project_file_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.etlproj"
    bad.write_text('{"format": "etl-studio-project", "schema_version": 1, "pipelines": [}')
    result = etl("run", str(bad))
    assert result.returncode == 2
    assert_one_line_error(result)
    assert "not valid JSON" in result.stderr
    assert bad.read_text().endswith("[}")  # never rewritten


def test_an_unknown_pipeline_is_exit_2(tmp_path: Path) -> None:
    result = etl("run", str(copy_demo(tmp_path)), "--pipeline", "ordres")
    assert result.returncode == 2
    assert "no pipeline named 'ordres'" in result.stderr


def test_an_unreachable_database_fails_the_run_with_a_clear_message(tmp_path: Path) -> None:
    project = copy_demo(tmp_path, url="postgresql://postgres@127.0.0.1:1/test")
    data = json.loads(project.read_text())
    for pipeline in data["pipelines"]:
        pipeline["retries"] = 0
    project.write_text(json.dumps(data, indent=2))
    result = etl("run", str(project), "--pipeline", "customers")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "customers: failed" in result.stderr
    assert "127.0.0.1" in result.stderr and ("refused" in result.stderr.lower() or "could not connect" in result.stderr.lower())


def test_a_wrong_password_says_access_denied_and_never_prints_the_password(tmp_path: Path, mysql_url: str) -> None:
    url = mysql_url.replace("root@", "root:${ETL_TEST_WRONG_PASSWORD}@")
    project = copy_demo(tmp_path, url=url)
    data = json.loads(project.read_text())
    data["pipelines"][0]["retries"] = 0
    project.write_text(json.dumps(data, indent=2))
    result = etl("run", str(project), "--pipeline", "customers", env={"ETL_TEST_WRONG_PASSWORD": "not-the-password-42"})
    assert result.returncode == 1
    assert "Access denied" in result.stderr
    assert "not-the-password-42" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_preview_prints_transformed_rows_and_loads_nothing(tmp_path: Path) -> None:
    project = copy_demo(tmp_path)
    result = etl("preview", str(project), "--pipeline", "orders", "--rows", "30")
    assert result.returncode == 0, result.stderr
    assert "order_total" in result.stdout and "would be quarantined" in result.stdout
    assert not (project.parent / "warehouse.db").exists() or "orders" not in (project.parent / "warehouse.db").read_bytes().decode("latin-1")


def test_history_lists_runs_newest_first(tmp_path: Path) -> None:
    project = copy_demo(tmp_path)
    assert etl("run", str(project)).returncode == 0
    result = etl("history", str(project), "--limit", "5")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert "status" in lines[0] and "loaded" in lines[0]
    assert lines[1].split()[1] == "orders" and "succeeded" in lines[1]
    assert lines[2].split()[1] == "customers"


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = etl("--debug", "run", str(tmp_path / "missing.etlproj"))
    assert result.returncode == 2
    assert "Traceback" in result.stderr


@pytest.mark.parametrize("args", [["run"], ["preview", "x", "--rows", "0"]])
def test_usage_errors_exit_2(args: list[str], tmp_path: Path) -> None:
    assert etl(*args).returncode == 2


def test_history_of_one_run_shows_rules_quarantine_and_log_and_exports_quarantine(tmp_path: Path) -> None:
    project = copy_demo(tmp_path)
    assert etl("run", str(project)).returncode == 0
    run_id = etl("history", str(project), "--pipeline", "orders", "--limit", "1").stdout.splitlines()[1].split()[0]
    out = tmp_path / "rejects.csv"
    result = etl("history", str(project), "--run", run_id, "--quarantine-csv", str(out))
    assert result.returncode == 0, result.stderr
    assert "quality rules:" in result.stdout and "valid e-mail" in result.stdout
    assert "quarantined rows" in result.stdout and "log:" in result.stdout
    import pandas as pd

    rejects = pd.read_csv(out)
    assert {"row", "rule", "reason", "customer_email"} <= set(rejects.columns)
    assert (rejects["rule"] == "valid e-mail").sum() > 0


def test_validate_reports_a_bad_cron_expression_at_its_place(tmp_path: Path) -> None:
    project = copy_demo(tmp_path)
    data = json.loads(project.read_text())
    data["pipelines"][0]["schedule"] = {"cron": "61 * * * *"}
    project.write_text(json.dumps(data, indent=2))
    result = etl("validate", str(project), "--offline")
    assert result.returncode == 2
    assert "pipelines[0].schedule.cron: not a valid cron expression" in result.stdout


def test_validate_never_creates_the_warehouse_file(tmp_path: Path) -> None:
    project = copy_demo(tmp_path)
    assert etl("validate", str(project)).returncode == 0
    assert not (project.parent / "warehouse.db").exists()
