"""A process killed between load and commit leaves target and watermark as they were; killed after the commit, reconciliation recovers the watermark."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from etl_studio.core.connections import ConnectionPool
from etl_studio.core.engine.reconcile import reconcile_runs
from etl_studio.core.history import RunStatus, open_run_store
from etl_studio.core.history.watermarks import watermark_store_for
from etl_studio.core.project import load_project, save_project
from etl_studio.core.project.models import Connection, Incremental, Pipeline, PluginSpec, Project, TargetColumn

REPO = Path(__file__).resolve().parents[3]
START = datetime(2024, 1, 1, 12)

# Runs the pipeline in a child process that kills itself with SIGKILL at the chosen moment.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from etl_studio.core.engine.runner import run_pipeline
    from etl_studio.core.history.watermarks import SqlWatermarkStore
    from etl_studio.core.project import load_project
    from etl_studio.core.targets.sql_table import SqlLoadSession

    moment = sys.argv[2]
    if moment == "before_commit":
        real = SqlLoadSession.commit
        def commit(self, control):
            # The rows are written inside the open transaction; the process dies before COMMIT.
            os.kill(os.getpid(), signal.SIGKILL)
        SqlLoadSession.commit = commit
    else:
        def set_(self, *args, **kwargs):
            # The target committed (data + control row); the state database never hears of it.
            os.kill(os.getpid(), signal.SIGKILL)
        SqlWatermarkStore.set = set_
    path = Path(sys.argv[1])
    run_pipeline(load_project(path), "customers", project_dir=path.parent)
    """
)


def make_project(folder: Path, url: str, table: str) -> Path:
    project = Project(
        connections=[Connection(name="db", url=url)],
        pipelines=[Pipeline(
            name="customers",
            source=PluginSpec(kind="sql_table", config={"connection": "db", "table": table + "_src"}),
            incremental=Incremental(column="updated_at"),
            mapping=[
                TargetColumn(name="id", type="integer", nullable=False, source="id"),
                TargetColumn(name="name", source="name"),
                TargetColumn(name="updated_at", type="datetime", source="updated_at"),
            ],
            target=PluginSpec(kind="sql_table", config={"connection": "db", "table": table, "mode": "merge", "keys": ["id"]}),
        )],
    )
    path = folder / "crash.etlproj"
    save_project(project, path)
    return path


@pytest.mark.parametrize("server", ["sqlite", "postgresql"])
@pytest.mark.parametrize("moment", ["before_commit", "after_commit"])
def test_sigkill_around_the_commit(tmp_path: Path, server: str, moment: str, table_name: str, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'target.db'}" if server == "sqlite" else request.getfixturevalue("postgres_url")
    path = make_project(tmp_path, url, table_name)
    project = load_project(path)
    pool = ConnectionPool(project, tmp_path)
    engine = pool.engine("db")
    source = sa.Table(table_name + "_src", sa.MetaData(), sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
                      sa.Column("name", sa.Text), sa.Column("updated_at", sa.DateTime))
    source.create(engine)
    try:
        with engine.begin() as conn:
            conn.execute(source.insert(), [{"id": 1, "name": "a", "updated_at": START}, {"id": 2, "name": "b", "updated_at": START}])
        from etl_studio.core.engine.runner import run_pipeline

        first = run_pipeline(project, "customers", project_dir=tmp_path)
        assert first.status is RunStatus.SUCCEEDED, first.error
        store = open_run_store(None, tmp_path)
        marks = watermark_store_for(store)
        assert marks.get("customers").value == "2024-01-01T12:00:00"

        with engine.begin() as conn:
            conn.execute(source.update().where(source.c.id == 1).values(name="A", updated_at=START + timedelta(hours=1)))
            conn.execute(source.insert().values(id=3, name="c", updated_at=START + timedelta(hours=2)))
        child = subprocess.run([sys.executable, "-c", CHILD, str(path), moment], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert child.returncode == -signal.SIGKILL, child.stderr

        target = sa.Table(table_name, sa.MetaData(), autoload_with=engine)
        with engine.connect() as conn:
            loaded = [tuple(r) for r in conn.execute(sa.select(target.c.id, target.c.name).order_by(target.c.id))]
        killed = store.list_runs("customers")[0]
        assert killed.status is RunStatus.RUNNING
        if moment == "before_commit":
            assert loaded == [(1, "a"), (2, "b")]
            assert marks.get("customers").value == "2024-01-01T12:00:00"
        else:
            assert loaded == [(1, "A"), (2, "b"), (3, "c")]
            assert marks.get("customers").value == "2024-01-01T12:00:00"  # not yet: the process died first

        settled = reconcile_runs(project, tmp_path, store)
        assert [r.run_id for r in settled] == [killed.run_id]
        if moment == "before_commit":
            assert store.get_run(killed.run_id).status is RunStatus.INTERRUPTED
            assert marks.get("customers").value == "2024-01-01T12:00:00"
        else:
            assert store.get_run(killed.run_id).status is RunStatus.SUCCEEDED
            assert marks.get("customers").value == "2024-01-01T14:00:00"  # recovered from the control row
        # The next run reads from the settled watermark: nothing is lost, nothing loaded twice.
        again = run_pipeline(project, "customers", project_dir=tmp_path, store=store)
        assert again.status is RunStatus.SUCCEEDED, again.error
        assert again.rows_read == (2 if moment == "before_commit" else 0)
        with engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(sa.select(target.c.id, target.c.name).order_by(target.c.id))] == [(1, "A"), (2, "b"), (3, "c")]
        store.dispose()
    finally:
        with engine.begin() as conn:
            for name in (table_name, table_name + "_src"):
                sa.Table(name, sa.MetaData()).drop(conn, checkfirst=True)
        pool.dispose()
