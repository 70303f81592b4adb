"""Change data capture end to end: pg_cdc -> sql_table (mode cdc) runs keep a target equal to the source table.

Real PostgreSQL (wal_level=logical) as the source; another PostgreSQL table, a SQLite file or a
MariaDB table as the target. Every run is all-or-nothing: a run that fails at commit, or is killed before it,
leaves the target as it was and the replication slot where it was, and the next run applies
the same changes.
"""

from __future__ import annotations

import decimal
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl_studio.core.cdc.pipelines import cdc_source
from etl_studio.core.cdc.slots import slot_status
from etl_studio.core.connections import ConnectionPool, build_url
from etl_studio.core.engine.plan import plan_pipeline
from etl_studio.core.engine.reconcile import reconcile_runs
from etl_studio.core.engine.runner import run_pipeline
from etl_studio.core.engine.validation import validate_project
from etl_studio.core.history import RunStatus, open_run_store
from etl_studio.core.project import Connection, Pipeline, PluginSpec, Project, RuleSpec, TargetColumn, load_project, save_project

REPO = Path(__file__).resolve().parents[3]
PIPELINE = "orders_cdc"
SOURCE_COLUMNS = "id integer primary key, name text not null, amount numeric(10,2), day date, active boolean, note text"
SELECT = "id, name, amount, day, active, note"
MAPPING = [
    TargetColumn(name="id", type="integer", source="id", nullable=False),
    # Required, and checked by a not_null rule: a delete carries only the key and must still apply.
    TargetColumn(name="name", type="string", source="name", nullable=False),
    TargetColumn(name="amount", type="decimal(10,2)", source="amount"),
    TargetColumn(name="day", type="date", source="day"),
    TargetColumn(name="active", type="boolean", source="active"),
    TargetColumn(name="note", type="string", source="note"),
]


def etl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "etl_studio", *args], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ))


def run_sql(engine: Engine, *statements: str) -> None:
    """Each statement in its own transaction (its own commit in the WAL)."""
    for statement in statements:
        with engine.begin() as conn:
            conn.execute(sa.text(statement))


def drop_slot_surely(engine: Engine, name: str) -> None:
    """A slot left behind keeps WAL on the server forever: end whoever still holds it, then drop it."""
    deadline = time.monotonic() + 30
    while True:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            row = conn.execute(sa.text("select active_pid from pg_replication_slots where slot_name = :n"), {"n": name}).first()
            if row is None:
                return
            if row[0] is not None:
                # With a timeout, PostgreSQL waits until the backend has really gone.
                conn.execute(sa.text("select pg_terminate_backend(:pid, 5000)"), {"pid": row[0]})
            else:
                try:
                    conn.execute(sa.text("select pg_drop_replication_slot(:n)"), {"n": name})
                    return
                except sa.exc.DBAPIError:
                    if time.monotonic() > deadline:
                        raise


class Setup:
    """A project in tmp_path: a PostgreSQL source table, its slot, and a CDC pipeline into a PostgreSQL table or a SQLite file."""

    def __init__(self, tmp_path: Path, postgres_url: str, table_name: str, target_kind: str) -> None:
        self.dir = tmp_path
        self.target_kind = target_kind
        self.source_table = table_name
        self.target_table = f"{table_name}_target"
        self.slot = f"etl_run_{uuid.uuid4().hex[:12]}"
        self.pg = sa.create_engine(build_url(Connection(name="src", url=postgres_url), tmp_path))
        target_url = {"postgresql": postgres_url, "sqlite": f"sqlite:///{tmp_path / 'target.db'}"}.get(target_kind, target_kind)
        self.target = sa.create_engine(build_url(Connection(name="dst", url=target_url), tmp_path))
        run_sql(self.pg, f"create table {self.source_table} ({SOURCE_COLUMNS})")
        self.target_dialect = self.target.dialect.name
        if target_kind == "postgresql":
            # The target refuses two rows with one name, but only when the load commits (DEFERRED):
            # the way to make a run fail at its commit, for real.
            run_sql(self.pg, f"create table {self.target_table} ({SOURCE_COLUMNS}, "
                             f"constraint {self.target_table}_name unique (name) deferrable initially deferred)")
        pipeline = Pipeline(
            name=PIPELINE,
            source=PluginSpec(kind="pg_cdc", config={"connection": "src", "slot": self.slot, "table": self.source_table}),
            # PostgreSQL: an explicit mapping into an existing table; SQLite: no mapping, the table made from the source's columns.
            mapping=MAPPING if target_kind == "postgresql" else [],
            rules=[RuleSpec(name="has a name", kind="not_null", config={"column": "name"})],
            target=PluginSpec(kind="sql_table", config={"connection": "dst", "table": self.target_table, "mode": "cdc", "keys": ["id"]}),
            chunk_size=3,  # several chunks per run: changes of one key land in different chunks
        )
        self.project = Project(name="cdc runs", connections=[Connection(name="src", url=postgres_url), Connection(name="dst", url=target_url)],
                               pipelines=[pipeline])
        self.path = tmp_path / "cdc.etlproj"
        save_project(self.project, self.path)

    def create_slot(self) -> None:
        with cdc_source(self.project, PIPELINE, self.dir) as source:
            source.create_slot()

    def close(self) -> None:
        try:
            drop_slot_surely(self.pg, self.slot)
        finally:
            with self.pg.begin() as conn:
                for name in (self.source_table, self.target_table):
                    conn.exec_driver_sql(f"drop table if exists {name}")
            if self.target_dialect == "mysql":
                with self.target.begin() as conn:
                    conn.exec_driver_sql(f"drop table if exists {self.target_table}")
            self.pg.dispose()
            self.target.dispose()

    # -- looking -----------------------------------------------------------------------------

    def source_rows(self) -> list[tuple[Any, ...]]:
        with self.pg.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(f"select {SELECT} from {self.source_table} order by id"))]

    def target_rows(self) -> list[tuple[Any, ...]]:
        with self.target.connect() as conn:
            if not sa.inspect(conn).has_table(self.target_table):
                return []
            table = sa.Table(self.target_table, sa.MetaData(), autoload_with=conn)
            names = [c.strip() for c in SELECT.split(",")]
            assert [c.name for c in table.columns] == names, "only the table's own columns: no __op__, __lsn__, __unchanged__"
            return [tuple(_plain(v) for v in r) for r in conn.execute(sa.select(table).order_by(table.c.id))]

    def assert_equal(self) -> None:
        assert self.target_rows() == self.source_rows()

    def slot_position(self) -> str | None:
        with self.pg.connect() as conn:
            status = slot_status(conn, self.slot)
        assert status is not None
        return status.confirmed_lsn

    def committed_watermark(self, run_id: str) -> str | None:
        with self.target.connect() as conn:
            return conn.execute(sa.text("select watermark from etl_studio_loads where run_id = :r"), {"r": run_id}).scalar()

    def run(self) -> Any:
        return run_pipeline(load_project(self.path), PIPELINE, project_dir=self.dir)


def _plain(value: Any) -> Any:
    """SQLite hands NUMERIC back as a float when the value has no fraction digits to keep; compare as numeric does."""
    if isinstance(value, float):
        return decimal.Decimal(str(value)).quantize(decimal.Decimal("0.01"))
    return value


@pytest.fixture(params=["postgresql", "sqlite", "mysql"])
def setup(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str, table_name: str) -> Iterator[Setup]:
    kind = request.param if request.param != "mysql" else request.getfixturevalue("mysql_url")
    made = Setup(tmp_path, postgres_url, table_name, kind)
    try:
        made.create_slot()
        yield made
    finally:
        made.close()


def test_runs_keep_the_target_equal_to_the_source_and_a_failed_commit_leaves_target_and_slot(setup: Setup) -> None:
    src = setup.source_table
    assert validate_project(setup.project, setup.dir) == []
    run_sql(
        setup.pg,
        f"insert into {src} values (1, 'Ann', 10.50, '2024-01-02', true, 'first'), (2, 'Bob', null, null, false, null), "
        f"(3, 'Cy', 3, '2024-03-03', null, 'O''Brien')",
        f"update {src} set name = 'Anne', amount = 11.25 where id = 1",
        f"delete from {src} where id = 3",
        f"update {src} set id = 20 where id = 2",  # the key changes: the old row goes, the new one comes
        f"insert into {src} values (3, 'Cy again', 4, null, true, null), (4, 'Dee', 0.10, '2024-04-04', false, 'x')",
        f"update {src} set note = 'changed' where id = 4",
    )
    planned = plan_pipeline(load_project(setup.path), PIPELINE, project_dir=setup.dir)
    assert planned.counts.get("delete", 0) >= 1 and "cdc" in " ".join(planned.notes)
    assert ("ON CONFLICT" in planned.sql or "ON DUPLICATE KEY UPDATE" in planned.sql) and "DELETE FROM" in planned.sql and "__op__" in planned.sql
    position = setup.slot_position()
    assert setup.target_rows() == [], "a plan commits nothing"
    assert setup.slot_position() == position, "a plan never advances the slot"

    first = setup.run()
    assert first.status is RunStatus.SUCCEEDED, first.error
    assert first.rows_quarantined == 0, "deletes carry no name, yet the not_null rule leaves them alone"
    setup.assert_equal()
    assert [r[0] for r in setup.source_rows()] == [1, 3, 4, 20]
    watermark = setup.committed_watermark(first.run_id)
    assert watermark is not None and setup.slot_position() == watermark, "the slot moved to the LSN the control row holds"

    # More changes, run by `etl-studio run` in its own process.
    run_sql(setup.pg, f"delete from {src} where id = 1", f"insert into {src} values (5, 'Eve', 5.55, null, null, null)",
            f"update {src} set amount = amount + 1, active = not coalesce(active, false)")
    ran = etl("run", str(setup.path))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    setup.assert_equal()
    after_cli = setup.slot_position()
    assert after_cli is not None and after_cli > watermark  # zero-padded LSNs sort as text

    # A run the target refuses: the changes are read, applied in the transaction, and rolled back.
    before = setup.target_rows()
    if setup.target_kind == "postgresql":
        # Two rows named 'Eve': the deferred unique constraint fails the COMMIT itself.
        run_sql(setup.pg, f"insert into {src} values (6, 'Fay', null, null, null, null)", f"update {src} set name = 'Eve' where id = 4")
    else:
        # The target refuses the name 'bad' (a trigger, as a constraint would) while the changes are applied.
        with setup.target.begin() as conn:
            if setup.target_dialect == "sqlite":
                conn.exec_driver_sql(f"create trigger {setup.target_table}_no_bad before update on {setup.target_table} "
                                     "when new.name = 'bad' begin select raise(abort, 'no bad names'); end")
            else:
                conn.exec_driver_sql(f"create trigger {setup.target_table}_no_bad before update on {setup.target_table} for each row "
                                     "begin if new.name = 'bad' then signal sqlstate '45000' set message_text = 'no bad names'; end if; end")
        run_sql(setup.pg, f"insert into {src} values (6, 'Fay', null, null, null, null)", f"update {src} set name = 'bad' where id = 4")
    failed = setup.run()
    assert failed.status is RunStatus.FAILED
    assert ("duplicate key" in failed.error or "unique" in failed.error.lower()) if setup.target_kind == "postgresql" else "no bad names" in failed.error
    assert setup.target_rows() == before, "the target is as it was"
    assert setup.slot_position() == after_cli, "the slot did not move: the next run reads those changes again"

    # Put the source right; the next run applies the failed run's changes (the insert of 6) and the fix.
    run_sql(setup.pg, f"update {src} set name = 'Dee again' where id = 4")
    fixed = setup.run()
    assert fixed.status is RunStatus.SUCCEEDED, fixed.error
    setup.assert_equal()
    assert 6 in [r[0] for r in setup.target_rows()]

    # Nothing new: a run reads nothing and changes nothing.
    idle = setup.run()
    assert idle.status is RunStatus.SUCCEEDED and idle.rows_read == 0, idle.error
    setup.assert_equal()


def test_a_truncate_and_a_restart_after_an_interrupted_advance(setup: Setup, caplog: pytest.LogCaptureFixture,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    src = setup.source_table
    run_sql(setup.pg, f"insert into {src} (id, name) values (1, 'a'), (2, 'b')")
    assert setup.run().status is RunStatus.SUCCEEDED
    first_position = setup.slot_position()
    run_sql(setup.pg, f"truncate {src}", f"insert into {src} (id, name) values (3, 'c')")
    # A process that dies between the target's commit and the slot's advance: the advance never happens.
    from etl_studio.core.sources.pg_cdc import PgCdcSource

    def lost(self: PgCdcSource, watermark: str | None) -> None:
        raise ConnectionError("the server went away")

    with monkeypatch.context() as patched:
        patched.setattr(PgCdcSource, "after_commit", lost)
        record = setup.run()
    assert record.status is RunStatus.SUCCEEDED, "a failed advance does not fail a committed run"
    assert "could not record it" in caplog.text
    setup.assert_equal()
    assert setup.slot_position() == first_position
    # The next run first moves the slot to the committed watermark, so it reads nothing twice.
    again = setup.run()
    assert again.status is RunStatus.SUCCEEDED, again.error
    assert again.rows_read == 0
    committed = setup.committed_watermark(record.run_id)
    assert committed is not None and f"advanced to {committed}" in caplog.text
    assert setup.slot_position() >= committed  # type: ignore[operator]
    setup.assert_equal()


@pytest.mark.slow
@pytest.mark.parametrize("target_kind", ["postgresql", "sqlite"])
def test_a_killed_run_leaves_target_and_slot_as_they_were(tmp_path: Path, postgres_url: str, table_name: str, target_kind: str) -> None:
    setup = Setup(tmp_path, postgres_url, table_name, target_kind)
    try:
        created = etl("cdc", str(setup.path), "--pipeline", PIPELINE, "create-slot")
        assert created.returncode == 0, created.stderr
        src = setup.source_table
        run_sql(setup.pg, f"insert into {src} (id, name, amount) values (1, 'kept', 1), (2, 'also kept', 2)")
        project = load_project(setup.path)
        assert setup.run().status is RunStatus.SUCCEEDED
        before, position = setup.target_rows(), setup.slot_position()
        assert len(before) == 2
        # Many changes, so the kill lands while chunks are being applied inside the load's transaction.
        run_sql(setup.pg, f"insert into {src} (id, name, amount) select g, 'row ' || g, g % 1000 from generate_series(10, 80009) g",
                f"delete from {src} where id = 1")
        pipeline = project.pipelines[0].model_copy(update={"chunk_size": 2_000})
        save_project(project.model_copy(update={"pipelines": [pipeline]}), setup.path)
        process = subprocess.Popen([sys.executable, "-m", "etl_studio", "run", str(setup.path), "--progress"],
                                   cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        try:
            assert process.stderr is not None
            progress = 0
            for line in process.stderr:
                if line.startswith("progress:"):
                    progress += 1
                    if progress >= 3:  # several chunks applied, nothing committed
                        os.kill(process.pid, signal.SIGKILL)
                        break
            process.wait(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
        assert setup.target_rows() == before
        assert setup.slot_position() == position
        store = open_run_store(None, tmp_path)
        try:
            settled = reconcile_runs(load_project(setup.path), tmp_path, store)
            assert [r.status for r in settled] == [RunStatus.INTERRUPTED]
        finally:
            store.dispose()
        record = setup.run()
        assert record.status is RunStatus.SUCCEEDED, record.error
        assert record.rows_read == 80_001
        setup.assert_equal()
    finally:
        setup.close()
