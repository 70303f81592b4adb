"""A run killed with SIGKILL in the middle of its load leaves the target exactly as it was."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from etl_studio.core.connections import ConnectionPool
from etl_studio.core.engine.reconcile import reconcile_runs
from etl_studio.core.engine.runner import run_pipeline
from etl_studio.core.history import RunStatus, open_run_store
from etl_studio.core.project import Connection, Pipeline, PluginSpec, Project, TargetColumn, load_project, save_project

REPO = Path(__file__).resolve().parents[3]


def write_rows(path: Path, start: int, count: int) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "amount"])
        for i in range(start, start + count):
            writer.writerow([i, f"name {i}", f"{i % 1000}.{i % 100:02d}"])


def make_project(folder: Path, url: str, table: str) -> Path:
    project = Project(
        name="kill test",
        connections=[Connection(name="db", url=url)],
        pipelines=[
            Pipeline(
                name="load",
                source=PluginSpec(kind="csv_file", config={"path": "data.csv"}),
                mapping=[
                    TargetColumn(name="id", type="integer", source="id", nullable=False),
                    TargetColumn(name="name", type="string", source="name"),
                    TargetColumn(name="amount", type="decimal(10,2)", source="amount"),
                ],
                target=PluginSpec(kind="sql_table", config={"connection": "db", "table": table, "mode": "replace"}),
                chunk_size=2_000,
            )
        ],
    )
    path = folder / "kill.etlproj"
    save_project(project, path)
    return path


def table_contents(path: Path, table: str) -> pd.DataFrame:
    project = load_project(path)
    pool = ConnectionPool(project, path.parent)
    engine = pool.engine("db")
    try:
        with engine.connect() as conn:
            quoted = engine.dialect.identifier_preparer.quote(table)
            return pd.read_sql(sa.text("select * from " + quoted + " order by id"), conn)
    finally:
        pool.dispose()


@pytest.mark.parametrize("server", ["sqlite", "postgresql"])
def test_sigkill_during_the_load_leaves_the_target_unchanged_and_the_run_interrupted(tmp_path: Path, server: str, request: pytest.FixtureRequest, table_name: str) -> None:
    url = f"sqlite:///{tmp_path / 'target.db'}" if server == "sqlite" else request.getfixturevalue("postgres_url")
    path = make_project(tmp_path, url, table_name)
    # A first, complete run: the rows that must survive the killed one.
    write_rows(tmp_path / "data.csv", 0, 500)
    project = load_project(path)
    first = run_pipeline(project, "load", project_dir=tmp_path)
    assert first.status is RunStatus.SUCCEEDED, first.error
    before = table_contents(path, table_name)
    assert len(before) == 500
    # A big second file, so the kill lands while chunks are being loaded.
    write_rows(tmp_path / "data.csv", 10_000, 400_000)
    process = subprocess.Popen(
        [sys.executable, "-m", "etl_studio", "run", str(path), "--progress"],
        cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )
    try:
        assert process.stderr is not None
        progress_lines = 0
        for line in process.stderr:
            if line.startswith("progress:"):
                progress_lines += 1
                if progress_lines >= 3:  # several chunks written inside the load's transaction
                    os.kill(process.pid, signal.SIGKILL)
                    break
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    pd.testing.assert_frame_equal(table_contents(path, table_name), before)
    store = open_run_store(None, tmp_path)
    killed = store.list_runs("load")[0]
    assert killed.status is RunStatus.RUNNING  # as the dead process left it
    settled = reconcile_runs(project, tmp_path, store)
    assert [r.run_id for r in settled] == [killed.run_id]
    assert store.get_run(killed.run_id).status is RunStatus.INTERRUPTED
    if server == "postgresql":
        pool = ConnectionPool(project, tmp_path)
        with pool.engine("db").begin() as conn:
            conn.execute(sa.text("drop table if exists " + pool.engine("db").dialect.identifier_preparer.quote(table_name)))
        pool.dispose()
