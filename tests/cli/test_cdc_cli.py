"""`etl-studio cdc`: an engineer creates, inspects and drops a pipeline's replication slot from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from etl_studio.core.cdc.slots import drop_slot
from etl_studio.core.connections import build_url
from etl_studio.core.project.models import Connection

REPO = Path(__file__).resolve().parents[2]


def etl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "etl_studio", *args], cwd=REPO, capture_output=True, text=True, timeout=120, env=dict(os.environ))


@pytest.fixture
def slot(postgres_url: str, tmp_path: Path) -> Iterator[str]:
    name = f"etl_cli_{uuid.uuid4().hex[:12]}"
    yield name
    engine = sa.create_engine(build_url(Connection(name="db", url=postgres_url), tmp_path))
    try:
        drop_slot(engine, name, missing_ok=True)  # never leave a slot behind: it keeps WAL
    finally:
        engine.dispose()


def write_project(tmp_path: Path, postgres_url: str, slot: str, table: str) -> Path:
    cdc = {
        "name": "orders_changes",
        "source": {"kind": "pg_cdc", "config": {"connection": "db", "slot": slot, "table": table}},
        "target": {"kind": "csv_file", "config": {"path": "out.csv"}},
    }
    plain = {"name": "plain", "source": {"kind": "csv_file", "config": {"path": "in.csv"}}, "target": {"kind": "csv_file", "config": {"path": "o.csv"}}}
    project = {"format": "etl-studio-project", "schema_version": 1, "connections": [{"name": "db", "url": postgres_url}], "pipelines": [cdc, plain]}
    path = tmp_path / "cdc.etlproj"
    path.write_text(json.dumps(project, indent=2))
    return path


def test_create_status_and_drop_a_slot(tmp_path: Path, postgres_url: str, slot: str) -> None:
    project = str(write_project(tmp_path, postgres_url, slot, "orders"))

    status = etl("cdc", project, "--pipeline", "orders_changes", "status")
    assert status.returncode == 0, status.stderr
    assert "does not exist" in status.stdout and "create-slot" in status.stdout

    created = etl("cdc", project, "create-slot")  # the only CDC pipeline: --pipeline may be left out
    assert created.returncode == 0, created.stderr
    assert f"created replication slot {slot}" in created.stdout

    status = etl("cdc", project, "--pipeline", "orders_changes", "status")
    assert status.returncode == 0 and f"slot {slot} (test_decoding" in status.stdout and "idle" in status.stdout

    again = etl("cdc", project, "create-slot")
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr

    dropped = etl("cdc", project, "--pipeline", "orders_changes", "drop-slot")
    assert dropped.returncode == 0, dropped.stderr
    assert "dropped replication slot" in dropped.stdout
    assert "does not exist" in etl("cdc", project, "status").stdout


def test_a_pipeline_without_a_cdc_source_is_a_usage_error(tmp_path: Path, postgres_url: str, slot: str) -> None:
    project = str(write_project(tmp_path, postgres_url, slot, "orders"))
    result = etl("cdc", project, "--pipeline", "plain", "create-slot")
    assert result.returncode == 2
    assert result.stderr.startswith("error: pipeline 'plain' reads a csv_file source, not a PostgreSQL replication slot")
    unknown = etl("cdc", project, "--pipeline", "nope", "status")
    assert unknown.returncode == 2 and "no pipeline named 'nope'" in unknown.stderr
