"""The bundled incremental example, as the issue tells it: run, append a new and a changed customer, run again."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from etl_studio.core.engine.runner import run_pipeline
from etl_studio.core.history import RunStatus
from etl_studio.core.project import load_project

EXAMPLE = Path(__file__).resolve().parents[3] / "resources" / "examples" / "incremental"


def history(folder: Path) -> list[tuple]:
    with sqlite3.connect(folder / "warehouse.db") as conn:
        return conn.execute(
            "select customer_id, email, valid_from, valid_to, is_current, version from dim_customers order by customer_id, version"
        ).fetchall()


def test_second_run_reads_only_the_two_new_rows_and_keeps_two_versions_of_the_changed_customer(tmp_path: Path) -> None:
    folder = tmp_path / "incremental"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("*.db", ".etl_studio"))
    project = load_project(folder / "incremental.etlproj")

    first = run_pipeline(project, "dim_customers", project_dir=folder)
    assert first.status is RunStatus.SUCCEEDED, first.error
    assert (first.rows_read, first.rows_loaded) == (5, 5)
    assert len(history(folder)) == 5

    with (folder / "customers.csv").open("a", encoding="utf-8") as handle:
        handle.write("6,Barbara Liskov,barbara@example.com,US,2024-02-01 09:00:00\n")
        handle.write("3,Alan Turing,alan.turing@example.org,GB,2024-02-02 12:00:00\n")
    second = run_pipeline(project, "dim_customers", project_dir=folder)
    assert second.status is RunStatus.SUCCEEDED, second.error
    assert second.rows_read == 2

    rows = history(folder)
    alan = [row for row in rows if row[0] == 3]
    assert alan == [
        (3, "alan@example.com", "2024-01-07 11:15:00.000000", "2024-02-02 12:00:00.000000", 0, 1),
        (3, "alan.turing@example.org", "2024-02-02 12:00:00.000000", "9999-12-31 00:00:00.000000", 1, 2),
    ]
    assert sum(1 for row in alan if row[4]) == 1
    assert [row[0] for row in rows if row[4]] == [1, 2, 3, 4, 5, 6]
    assert len(rows) == 7

    third = run_pipeline(project, "dim_customers", project_dir=folder)
    assert third.status is RunStatus.SUCCEEDED, third.error
    assert third.rows_read == 0 and history(folder) == rows
