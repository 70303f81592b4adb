"""Transient connection errors are retried with backoff; data errors never are."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from etl_studio.core.connections import ConnectionPool
from etl_studio.core.engine import runner
from etl_studio.core.engine.events import RunProgress
from etl_studio.core.engine.runner import run_pipeline
from etl_studio.core.history import InMemoryRunStore, RunStatus
from etl_studio.core.project import Connection, Pipeline, PluginSpec, Project, TargetColumn


def project_for(tmp_path: Path, url: str, table: str, *, retries: int = 2) -> Project:
    with (tmp_path / "data.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "amount"])
        writer.writerows([i, f"{i}.50"] for i in range(3000))
    return Project(
        connections=[Connection(name="db", url=url)],
        pipelines=[
            Pipeline(
                name="load",
                source=PluginSpec(kind="csv_file", config={"path": "data.csv"}),
                mapping=[TargetColumn(name="id", type="integer", source="id", nullable=False),
                         TargetColumn(name="amount", type="decimal(10,2)", source="amount")],
                target=PluginSpec(kind="sql_table", config={"connection": "db", "table": table, "mode": "replace"}),
                chunk_size=500,
                retries=retries,
            )
        ],
    )


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "RETRY_BASE_SECONDS", 0.05)


def test_a_dropped_connection_is_retried_and_the_run_succeeds(tmp_path: Path, postgres_url: str, table_name: str, fast_backoff: None) -> None:
    project = project_for(tmp_path, postgres_url, table_name)
    admin = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg2://"))
    killed: list[int] = []

    def report(event: object) -> None:
        # During the first attempt, the server drops the load's connection (as a failover would).
        if isinstance(event, RunProgress) and not killed and event.rows_done >= 1000:
            with admin.begin() as conn:
                pids = conn.execute(sa.text(
                    "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() "
                    "and backend_type = 'client backend' and query ilike '%' || :table || '%'"), {"table": table_name}).scalars().all()
                for pid in pids:
                    conn.execute(sa.text("select pg_terminate_backend(:pid)"), {"pid": pid})
                killed.extend(pids)

    store = InMemoryRunStore()
    try:
        record = run_pipeline(project, "load", project_dir=tmp_path, store=store, report=report)
        assert killed, "no load connection was found to drop"
        assert record.status is RunStatus.SUCCEEDED, record.error
        assert record.rows_loaded == 3000
        messages = [line.message for line in store.logs(record.run_id)]
        assert any("attempt 1 failed" in m and "retrying" in m for m in messages), messages
        with admin.connect() as conn:
            assert conn.execute(sa.text('select count(*) from "' + table_name + '"')).scalar() == 3000
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text('drop table if exists "' + table_name + '"'))
        admin.dispose()


def test_a_data_error_is_not_retried(tmp_path: Path, fast_backoff: None) -> None:
    url = f"sqlite:///{tmp_path / 't.db'}"
    project = project_for(tmp_path, url, "numbers")
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # an existing table whose CHECK constraint the data breaks
        conn.execute(sa.text("create table numbers (id bigint not null primary key, amount numeric(10,2) check (amount < 100))"))
    engine.dispose()
    store = InMemoryRunStore()
    record = run_pipeline(project, "load", project_dir=tmp_path, store=store)
    assert record.status is RunStatus.FAILED
    assert "CHECK constraint failed" in record.error or "constraint" in record.error.lower()
    messages = [line.message for line in store.logs(record.run_id)]
    assert not any("retrying" in m for m in messages)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert pd.read_sql(sa.text("select * from numbers"), conn).empty
    engine.dispose()
