"""Opening a project settles the runs a killed process left 'running'."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from etl_studio.core.history import RunRecord, RunStatus, open_run_store
from etl_studio.gui.main_window import MainWindow
from tests.helpers import copy_demo


def test_opening_a_project_marks_a_dead_processes_run_interrupted(qtbot, tmp_path: Path) -> None:
    project = copy_demo(tmp_path)
    store = open_run_store(None, project.parent)
    orphan = RunRecord(pipeline="orders", pid=999_999_999)  # no such process
    orphan.move_to(RunStatus.RUNNING)
    store.save_run(orphan)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, check_connections=False)
    qtbot.addWidget(window)
    assert window.open_project(project, ask=False)
    qtbot.waitUntil(lambda: store.get_run(orphan.run_id).status is RunStatus.INTERRUPTED, timeout=15_000)
    store.dispose()
