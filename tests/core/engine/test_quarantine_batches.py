"""Quarantined rows reach the state database in batches, all of them, before the target commits; a failed run keeps them too."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from etl_studio.core.engine import runner
from etl_studio.core.engine.runner import run_pipeline
from etl_studio.core.history import RunStatus
from etl_studio.core.history.store import open_run_store
from etl_studio.core.project import Connection, Pipeline, PluginSpec, Project, RuleSpec, TargetColumn


def _project(tmp_path: Path, rows: int) -> Project:
    # Every third code is not a valid code; the rest load.
    (tmp_path / "data.csv").write_text("id,code\n" + "".join(f"{i},{'bad' if i % 3 == 0 else 'C' + str(i)}\n" for i in range(rows)))
    return Project(
        connections=[Connection(name="db", url=f"sqlite:///{tmp_path / 't.db'}")],
        pipelines=[Pipeline(
            name="load",
            source=PluginSpec(kind="csv_file", config={"path": "data.csv"}),
            mapping=[TargetColumn(name="id", type="integer", source="id", nullable=False),
                     TargetColumn(name="code", type="string", source="code")],
            rules=[RuleSpec(kind="regex", name="code", config={"column": "code", "pattern": "C[0-9]+"}, severity="error", action="quarantine")],
            target=PluginSpec(kind="sql_table", config={"connection": "db", "table": "codes", "mode": "replace"}),
            chunk_size=500,
        )],
    )


def _quarantined_rows(tmp_path: Path, run_id: str) -> list[int]:
    store = open_run_store(None, tmp_path)
    try:
        return sorted(int(r) for r in store.quarantined(run_id, limit=100_000)["row"])
    finally:
        store.dispose()


def test_every_quarantined_row_is_recorded_across_several_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "QUARANTINE_BATCH", 1_000)  # 6,000 rows in 12 chunks: several batches and a last partial one
    record = run_pipeline(_project(tmp_path, 18_000), "load", project_dir=tmp_path)
    assert record.status is RunStatus.SUCCEEDED
    assert (record.rows_read, record.rows_quarantined, record.rows_loaded) == (18_000, 6_000, 12_000)
    assert _quarantined_rows(tmp_path, record.run_id) == list(range(0, 18_000, 3))


def test_a_run_that_fails_later_keeps_the_rows_it_quarantined(tmp_path: Path) -> None:
    project = _project(tmp_path, 3_000)
    with sa.create_engine(f"sqlite:///{tmp_path / 't.db'}").begin() as conn:
        # The target refuses id 2900, in the last chunk: the load fails after quarantining rows of earlier chunks.
        conn.execute(sa.text("create table codes (id bigint not null primary key check (id <> 2900), code text)"))
    record = run_pipeline(project, "load", project_dir=tmp_path)
    assert record.status is RunStatus.FAILED
    assert _quarantined_rows(tmp_path, record.run_id)[:4] == [0, 3, 6, 9]
    assert len(_quarantined_rows(tmp_path, record.run_id)) == record.rows_quarantined >= 900
