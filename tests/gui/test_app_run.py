"""Running pipelines from the window: Run, watch the progress, find the rows and the history; Stop leaves the target alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from PySide6.QtCore import QSettings, QThreadPool

from etl_studio.app import DEMO_PROJECT, build_window
from etl_studio.core.engine.events import RunProgress
from etl_studio.core.history import RunStatus, open_run_store
from etl_studio.core.project import Connection, Pipeline, PluginSpec, Project, TargetColumn, save_project
from etl_studio.gui.main_window import MainWindow

_CLOSED: list[MainWindow] = []


def _open(path: Path, settings: QSettings) -> MainWindow:
    win = build_window(path, settings)
    win.ask_save_changes = lambda: "discard"
    win.ask_stop_runs = lambda: True
    win.show()
    return win


def _close(win: MainWindow) -> None:
    win.close()
    win.run_controller.wait_for_all(120000)
    QThreadPool.globalInstance().waitForDone(60000)
    _CLOSED.append(win)  # alive for the session: late worker results must find their widgets


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def demo_window(tmp_path: Path, settings: QSettings):
    folder = tmp_path / "orders"
    shutil.copytree(DEMO_PROJECT.parent, folder, ignore=shutil.ignore_patterns(".etl_studio", "*.db"))
    win = _open(folder / "orders.etlproj", settings)
    yield win
    _close(win)


@pytest.fixture
def big_window(tmp_path: Path, settings: QSettings):
    """A project whose one pipeline loads 600,000 rows in chunks of 2,000: long enough to stop."""
    folder = tmp_path / "big"
    folder.mkdir()
    rows = 600_000
    pd.DataFrame({"id": range(rows), "name": [f"name {i}" for i in range(rows)]}).to_csv(folder / "big.csv", index=False)
    project = Project(
        name="Big",
        connections=[Connection(name="dw", url="sqlite:///dw.db")],
        pipelines=[Pipeline(
            name="big",
            source=PluginSpec(kind="csv_file", config={"path": "big.csv"}),
            mapping=[TargetColumn(name="id", type="integer", nullable=False, source="id"), TargetColumn(name="name", source="name")],
            target=PluginSpec(kind="sql_table", config={"connection": "dw", "table": "big", "mode": "replace"}),
            chunk_size=2000,
        )],
    )
    # Its own SQLite file: SQLite lets one writer at a time, and the two must load side by side.
    twin = project.pipelines[0].model_copy(update={
        "name": "big twin", "target": PluginSpec(kind="sql_table", config={"connection": "dw2", "table": "big", "mode": "replace"})})
    project = project.model_copy(update={"pipelines": [*project.pipelines, twin],
                                         "connections": [*project.connections, Connection(name="dw2", url="sqlite:///dw2.db")]})
    save_project(project, folder / "big.etlproj")
    win = _open(folder / "big.etlproj", settings)
    yield win
    _close(win)


def _count(db: Path, table: str) -> int:
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(f'select count(*) from "{table}"')).scalar_one()
    finally:
        engine.dispose()


def test_running_a_pipeline_loads_the_target_and_lists_the_run_in_history(qtbot, demo_window: MainWindow) -> None:
    window = demo_window
    window.select_pipeline("customers")
    history = window.panels["history"]
    with qtbot.waitSignal(window.run_controller.runFinished, timeout=60000) as finished:
        window.run_action.trigger()
        assert window.stop_action.isEnabled()
        assert not window.run_action.isEnabled()  # the same pipeline never runs twice
    name, record = finished.args
    assert name == "customers"
    assert record.status is RunStatus.SUCCEEDED, record.error
    assert record.rows_loaded > 0
    assert "customers: done in" in window.status_label.text()
    assert not window.stop_action.isEnabled()

    project_dir = window.document.project_dir
    assert _count(project_dir / "warehouse.db", "customers") == record.rows_loaded
    store = open_run_store(None, project_dir)
    try:
        assert [r.run_id for r in store.list_runs("customers")] == [record.run_id]
    finally:
        store.dispose()
    qtbot.waitUntil(lambda: history.select_run(record.run_id), timeout=20000)
    assert history.selected_run().status is RunStatus.SUCCEEDED


def test_run_all_runs_upstream_pipelines_first(qtbot, demo_window: MainWindow) -> None:
    finished: list[str] = []
    demo_window.run_controller.runFinished.connect(lambda name, record: finished.append((name, record.status)))
    demo_window.run_all_action.trigger()
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=120000)
    assert finished == [("customers", RunStatus.SUCCEEDED), ("orders", RunStatus.SUCCEEDED)]


def test_stopping_a_long_run_leaves_the_target_as_it_was(qtbot, big_window: MainWindow) -> None:
    window = big_window
    target = window.document.project_dir / "dw.db"
    with qtbot.waitSignal(window.run_controller.runFinished, timeout=60000) as first:
        window.run_controller.start("big", limit=3)  # yesterday's load: three rows
    assert first.args[1].status is RunStatus.SUCCEEDED, first.args[1].error
    assert _count(target, "big") == 3

    progress: list[RunProgress] = []
    window.run_controller.event.connect(lambda e: progress.append(e) if isinstance(e, RunProgress) else None)
    with qtbot.waitSignal(window.run_controller.runFinished, timeout=120000) as finished:
        window.run_action.trigger()
        qtbot.waitUntil(lambda: len(progress) >= 2, timeout=60000)
        assert window.progress_bar.isVisible()
        assert "rows" in window.progress_label.text() and "elapsed" in window.progress_label.text()
        window.stop_action.trigger()
    record = finished.args[1]
    assert record.status is RunStatus.CANCELLED
    assert progress[-1].rows_done < 600_000
    assert _count(target, "big") == 3
    assert "stopped — the target was left as it was" in window.status_label.text()
    assert not window.progress_bar.isVisible()


def test_the_same_pipeline_is_never_started_twice(qtbot, big_window: MainWindow) -> None:
    controller = big_window.run_controller
    refused: list[str] = []
    controller.runRefused.connect(lambda name, why: refused.append(why))
    with qtbot.waitSignal(controller.runFinished, timeout=120000):
        assert controller.start("big") is not None
        assert controller.start("big") is None
        assert refused == ["'big' is already running; wait for it to finish or stop it"]
        assert big_window.run_pipeline("big") is None
        controller.stop("big")


def test_two_pipelines_run_at_once_each_in_its_own_worker(qtbot, big_window: MainWindow) -> None:
    controller = big_window.run_controller
    finished: list[tuple[str, RunStatus]] = []
    controller.runFinished.connect(lambda name, record: finished.append((name, record.status)))
    progress: set[str] = set()
    controller.event.connect(lambda e: progress.add(e.pipeline) if isinstance(e, RunProgress) else None)
    assert controller.start("big") and controller.start("big twin")
    assert sorted(controller.running()) == ["big", "big twin"]
    qtbot.waitUntil(lambda: progress == {"big", "big twin"}, timeout=60000)
    assert "(+1 more running)" in big_window.progress_label.text()
    big_window.stop_action.trigger()
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=60000)
    assert sorted(finished) == [("big", RunStatus.CANCELLED), ("big twin", RunStatus.CANCELLED)]
