"""Incremental runs against real databases: the window pushed down as a bound parameter, look-back, start values, stores."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from etl_studio.core.connections import ConnectionPool
from etl_studio.core.engine.plan import plan_pipeline
from etl_studio.core.engine.runner import run_pipeline
from etl_studio.core.history import RunStatus
from etl_studio.core.history.store import InMemoryRunStore, SqlRunStore
from etl_studio.core.history.watermarks import InMemoryWatermarkStore, SqlWatermarkStore, watermark_store_for
from etl_studio.core.project.models import Connection, Incremental, Pipeline, PluginSpec, Project, TargetColumn

START = datetime(2024, 1, 1, 12, 0, 0)


class Setup:
    def __init__(self, url: str, tmp_path: Path, table: str) -> None:
        self.tmp_path = tmp_path
        self.source = table + "_src"
        self.target = table + "_dst"
        self.project = Project(connections=[Connection(name="db", url=url)])
        self.pool = ConnectionPool(self.project, tmp_path)
        self.engine = self.pool.engine("db")
        self.statements: list[tuple[str, Any]] = []
        # Every engine (the run opens its own pool), so the source's query is seen as sent.
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", self._seen)
        self.meta = sa.MetaData()
        self.table = sa.Table(
            self.source, self.meta,
            sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("name", sa.String(50)),
            sa.Column("updated_at", sa.DateTime),
        )
        self.meta.create_all(self.engine)

    def _seen(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        self.statements.append((statement, parameters))

    def add(self, *rows: tuple[int, str, datetime]) -> None:
        with self.engine.begin() as conn:
            for row in rows:
                conn.execute(sa.delete(self.table).where(self.table.c.id == row[0]))
            conn.execute(self.table.insert(), [{"id": r[0], "name": r[1], "updated_at": r[2]} for r in rows])

    def pipeline(self, incremental: Incremental, **target: Any) -> Project:
        pipeline = Pipeline(
            name="customers",
            source=PluginSpec(kind="sql_table", config={"connection": "db", "table": self.source}),
            incremental=incremental,
            mapping=[
                TargetColumn(name="id", type="integer", nullable=False, source="id"),
                TargetColumn(name="name", source="name"),
                TargetColumn(name="updated_at", type="datetime", source="updated_at"),
            ],
            target=PluginSpec(kind="sql_table", config={"connection": "db", "table": self.target, "mode": "upsert", "keys": ["id"], **target}),
        )
        return self.project.model_copy(update={"pipelines": [pipeline]})

    def loaded(self) -> list[tuple]:
        with self.engine.connect() as conn:
            table = sa.Table(self.target, sa.MetaData(), autoload_with=conn)
            return [tuple(r) for r in conn.execute(sa.select(table.c.id, table.c.name).order_by(table.c.id))]

    def close(self) -> None:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", self._seen)
        with self.engine.begin() as conn:
            for name in (self.source, self.target):
                sa.Table(name, sa.MetaData()).drop(conn, checkfirst=True)
        self.pool.dispose()


@pytest.fixture
def setup(any_db_url: str, tmp_path: Path, table_name: str) -> Iterator[Setup]:
    handle = Setup(any_db_url, tmp_path, table_name)
    yield handle
    handle.close()


def run(setup: Setup, project: Project, store: Any, marks: Any) -> Any:
    record = run_pipeline(project, "customers", project_dir=setup.tmp_path, store=store, watermarks=marks)
    assert record.status is RunStatus.SUCCEEDED, record.error
    return record


def test_second_run_reads_only_newer_rows_with_the_watermark_bound_not_spliced(setup: Setup) -> None:
    project = setup.pipeline(Incremental(column="updated_at"))
    store, marks = InMemoryRunStore(), InMemoryWatermarkStore()
    setup.add((1, "a", START), (2, "b", START + timedelta(hours=1)))
    assert run(setup, project, store, marks).rows_read == 2
    assert marks.get("customers").value == "2024-01-01T13:00:00"

    setup.add((3, "c", START + timedelta(hours=2)), (1, "A", START + timedelta(hours=3)))
    setup.statements.clear()
    second = run(setup, project, store, marks)
    assert second.rows_read == 2
    assert setup.loaded() == [(1, "A"), (2, "b"), (3, "c")]
    assert marks.get("customers").value == "2024-01-01T15:00:00"
    reads = [(text, params) for text, params in setup.statements if setup.source in text and text.lstrip().lower().startswith("select") and "updated_at >" in text.replace('"', "").replace("`", "")]
    assert reads, "the source query filters on the watermark"
    text, params = reads[0]
    assert "2024-01-01" not in text  # the value travels as a parameter
    assert "13:00" in str(params) or "13, 0" in str(params)

    assert run(setup, project, store, marks).rows_read == 0  # nothing new
    assert marks.get("customers").value == "2024-01-01T15:00:00"


def test_look_back_re_reads_late_rows_and_upsert_makes_the_overlap_harmless(setup: Setup) -> None:
    project = setup.pipeline(Incremental(column="updated_at", lookback=3600))
    store, marks = InMemoryRunStore(), InMemoryWatermarkStore()
    setup.add((1, "a", START), (2, "b", START + timedelta(hours=2)))
    run(setup, project, store, marks)
    # A late row, committed in the source after the first run but stamped before its watermark.
    setup.add((3, "late", START + timedelta(hours=1, minutes=30)))
    second = run(setup, project, store, marks)
    assert second.rows_read == 2  # the late row and, again, row 2
    assert setup.loaded() == [(1, "a"), (2, "b"), (3, "late")]
    assert marks.get("customers").value == "2024-01-01T14:00:00"  # never moved back


def test_id_watermark_with_a_start_value(setup: Setup) -> None:
    project = setup.pipeline(Incremental(column="id", kind="id", initial_value="2"))
    store, marks = InMemoryRunStore(), InMemoryWatermarkStore()
    setup.add((1, "a", START), (2, "b", START), (3, "c", START))
    assert run(setup, project, store, marks).rows_read == 2  # the start value is inclusive
    setup.add((4, "d", START))
    assert run(setup, project, store, marks).rows_read == 1
    assert setup.loaded() == [(2, "b"), (3, "c"), (4, "d")]
    assert marks.get("customers").value == "4"


def test_plan_reports_the_window_and_changes_nothing(setup: Setup) -> None:
    project = setup.pipeline(Incremental(column="updated_at"))
    store, marks = InMemoryRunStore(), InMemoryWatermarkStore()
    setup.add((1, "a", START))
    run(setup, project, store, marks)
    setup.add((1, "A", START + timedelta(hours=1)), (2, "b", START + timedelta(hours=1)))
    plan = plan_pipeline(project, "customers", project_dir=setup.tmp_path, watermarks=marks)
    assert plan.rows_read == 2
    assert (plan.count("insert"), plan.count("update")) == (1, 1)
    assert (plan.watermark_from, plan.watermark_to) == ("2024-01-01T12:00:00", "2024-01-01T13:00:00")
    assert setup.loaded() == [(1, "a")]
    assert marks.get("customers").value == "2024-01-01T12:00:00"


def test_a_rerun_of_the_same_window_never_loads_twice(setup: Setup) -> None:
    project = setup.pipeline(Incremental(column="updated_at"), mode="append", keys=[])
    project = project.model_copy(update={"pipelines": [project.pipelines[0].model_copy(update={"incremental": None})]})
    store = InMemoryRunStore()
    setup.add((1, "a", START), (2, "b", START))
    # Unique per test run: the executions table of a shared server outlives the test.
    params = {"window_start": "2024-01-01", "window_end": setup.target}
    first = run_pipeline(project, "customers", project_dir=setup.tmp_path, store=store, params=params)
    second = run_pipeline(project, "customers", project_dir=setup.tmp_path, store=store, params=params)
    assert first.status is second.status is RunStatus.SUCCEEDED
    assert (first.rows_loaded, second.rows_loaded) == (2, 0)
    assert any("already loaded" in line.message for line in store.logs(second.run_id))
    assert setup.loaded() == [(1, "a"), (2, "b")]
    other = run_pipeline(project, "customers", project_dir=setup.tmp_path, store=store, params={"execution_id": "backfill-" + setup.target})
    assert other.rows_loaded == 2 and len(setup.loaded()) == 4


def test_incremental_read_refuses_delete_missing(setup: Setup) -> None:
    project = setup.pipeline(Incremental(column="updated_at"), mode="merge", delete_missing=True)
    setup.add((1, "a", START))
    record = run_pipeline(project, "customers", project_dir=setup.tmp_path, store=InMemoryRunStore(), watermarks=InMemoryWatermarkStore())
    assert record.status is RunStatus.FAILED and "delete_missing" in (record.error or "")


def test_csv_source_is_filtered_after_reading(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    rows = [["id", "changed"], ["1", "2024-01-01 10:00:00"], ["2", "2024-01-02T10:00:00"], ["3", ""], ["4", "2024-01-03"]]
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    project = Project(
        connections=[Connection(name="db", url=f"sqlite:///{tmp_path / 'w.db'}")],
        pipelines=[Pipeline(
            name="people", source=PluginSpec(kind="csv_file", config={"path": "people.csv"}),
            incremental=Incremental(column="changed", initial_value="2024-01-02"),
            mapping=[TargetColumn(name="id", type="integer", source="id", nullable=False)],
            target=PluginSpec(kind="sql_table", config={"connection": "db", "table": "people", "mode": "upsert", "keys": ["id"]}),
        )],
    )
    store, marks = InMemoryRunStore(), InMemoryWatermarkStore()
    first = run_pipeline(project, "people", project_dir=tmp_path, store=store, watermarks=marks)
    assert first.status is RunStatus.SUCCEEDED, first.error
    assert first.rows_read == 2 and marks.get("people").value == "2024-01-03T00:00:00"


def test_watermark_stores_keep_set_and_reset(tmp_path: Path) -> None:
    sql_store = SqlRunStore(f"sqlite:///{tmp_path / 'state.db'}")
    for marks in (SqlWatermarkStore(sql_store.engine), InMemoryWatermarkStore()):
        assert marks.get("p") is None
        marks.set("p", "10", "run-1")
        marks.set("p", "12", "run-2")
        mark = marks.get("p")
        assert (mark.value, mark.run_id) == ("12", "run-2") and mark.updated_at.tzinfo is not None
        marks.reset("p")
        assert marks.get("p") is None
    assert isinstance(watermark_store_for(sql_store), SqlWatermarkStore)
    memory = InMemoryRunStore()
    assert watermark_store_for(memory) is watermark_store_for(memory)
    sql_store.dispose()
