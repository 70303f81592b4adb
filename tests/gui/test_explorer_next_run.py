"""The project explorer's Next run column: each pipeline's next scheduled run, following the scheduler switch."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication

from etl_studio.core.project import Connection, Pipeline, PluginSpec, Project, TargetColumn, save_project
from etl_studio.core.project.models import Schedule
from etl_studio.gui.main_window import MainWindow
from etl_studio.gui.panels.explorer import format_next_run
from etl_studio.gui.panels.preview import PreviewPanel

from tests.gui._windows import open_window, save_shot, settle

WAIT_MS = 30_000


def _pipeline(name: str, schedule: Schedule | None) -> Pipeline:
    return Pipeline(
        name=name,
        source=PluginSpec(kind="csv_file", config={"path": "orders.csv"}),
        mapping=[TargetColumn(name="id", type="integer", source="id", nullable=False)],
        target=PluginSpec(kind="sql_table", config={"connection": "warehouse", "table": name, "mode": "replace"}),
        schedule=schedule,
    )


@pytest.fixture
def window(qtbot, tmp_path: Path):
    with (tmp_path / "orders.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([["id"], [1], [2]])
    project = Project(
        name="Nightly",
        connections=[Connection(name="warehouse", url="sqlite:///warehouse.db")],
        pipelines=[_pipeline("nightly", Schedule(cron="0 2 * * *")), _pipeline("by_hand", None),
                   _pipeline("paused", Schedule(cron="0 3 * * *", enabled=False))],
    )
    path = save_project(project, tmp_path / "nightly.etlproj")
    win = open_window(qtbot, path, tmp_path)
    yield win
    if win.scheduler is not None:
        win.scheduler.shutdown()
    settle(win)


def test_with_the_scheduler_off_the_column_says_off_and_when_it_would_run(window: MainWindow) -> None:
    explorer = window.explorer
    assert explorer.model.horizontalHeaderItem(1).text() == "Next run"
    assert explorer.next_run_of("nightly").startswith("off · ")
    assert explorer.next_run_of("nightly").endswith("02:00")
    assert explorer.next_run_of("by_hand") == "—"
    assert explorer.next_run_of("paused") == "—"


def test_switching_the_scheduler_on_shows_the_next_run_and_off_again_clears_it(qtbot, window: MainWindow) -> None:
    explorer = window.explorer
    with qtbot.waitSignal(window.scheduler.nextRunsChanged, timeout=WAIT_MS):
        window.scheduler_action.trigger()
    assert window.scheduler.is_running()
    when = window.scheduler.next_run_time("nightly")
    assert when is not None and when.astimezone().hour == 2
    assert explorer.next_run_of("nightly") == format_next_run(when)
    assert explorer.next_run_of("by_hand") == "—"
    save_shot(window, "explorer_next_run.png")
    with qtbot.waitSignal(window.scheduler.runningChanged, timeout=WAIT_MS):
        window.scheduler_action.trigger()
    assert explorer.next_run_of("nightly").startswith("off · ")


def test_clicking_the_next_run_cell_selects_its_pipeline(qtbot, window: MainWindow) -> None:
    explorer = window.explorer
    group = explorer.model.item(0)
    row = next(r for r in range(group.rowCount()) if group.child(r, 0).text() == "by_hand")
    cell = group.child(row, 1).index()
    explorer.tree.setCurrentIndex(cell)
    assert window.current_pipeline == "by_hand"
    assert explorer.selected() == ("pipeline", "by_hand")


def test_next_runs_read_as_an_analyst_says_them() -> None:
    now = datetime(2024, 5, 6, 12, 0, tzinfo=timezone.utc).astimezone()
    assert format_next_run(now + timedelta(hours=2), now) == f"today {(now + timedelta(hours=2)):%H:%M}"
    assert format_next_run(now + timedelta(days=1), now).startswith("tomorrow ")
    assert format_next_run(now + timedelta(days=3), now) == f"{(now + timedelta(days=3)):%a %H:%M}"
    assert format_next_run(now + timedelta(days=30), now) == f"{(now + timedelta(days=30)):%Y-%m-%d %H:%M}"


# -- polish reported by colleagues ---------------------------------------------------------------

def test_no_panel_shortcut_clashes_with_a_window_shortcut(window: MainWindow) -> None:
    window_keys = {a.shortcut().toString() for a in window.actions() if not a.shortcut().isEmpty()}
    assert {"F5", "F6", "F7", "F8"} <= window_keys
    for action in window.findChildren(QAction):
        if action in window.actions():
            continue
        for key in action.shortcuts():
            assert key.toString() not in window_keys, f"{action.objectName()} takes {key.toString()}, a window shortcut"
    mapping = window.pipeline_editor.mapping_panel
    assert mapping.reload_action.shortcut() == QKeySequence("Ctrl+R")


def test_a_preview_finishing_after_its_panel_was_deleted_is_ignored(qtbot, tmp_path: Path, window: MainWindow) -> None:
    panel = PreviewPanel(window.document)
    panel.show()
    panel.set_pipeline("by_hand")
    panel.refresh()
    worker = panel._worker
    assert worker is not None
    import shiboken6

    shiboken6.delete(panel)  # the window dropped it (another project) while the preview ran
    assert worker.cancel_event.is_set()
    QThreadPool.globalInstance().waitForDone(WAIT_MS)
    QApplication.processEvents()  # deliver the queued result, which must find no panel (pytest-qt fails on an exception)
