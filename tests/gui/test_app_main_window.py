"""The main window as an analyst meets it: open the demo, edit, save, reopen, drop a file, come back tomorrow."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QThreadPool, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from etl_studio.app import DEMO_PROJECT, build_window
from etl_studio.core.project import dumps_project, load_project
from etl_studio.gui.main_window import MainWindow


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    target = tmp_path / "orders"
    shutil.copytree(DEMO_PROJECT.parent, target, ignore=shutil.ignore_patterns(".etl_studio"))
    return target


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, demo_dir: Path, settings: QSettings) -> MainWindow:
    win = build_window(demo_dir / "orders.etlproj", settings)
    win.check_connections = False
    # Closing at the end of a test must not wait on a modal question.
    win.ask_save_changes = lambda: "discard"
    win.ask_stop_runs = lambda: True
    win.show()
    yield win
    close_and_settle(win)


_CLOSED: list[MainWindow] = []


def close_and_settle(win: MainWindow) -> None:
    """Close the window but keep it alive for the session: a preview or validation still
    running in a pool must not deliver its result to a deleted widget during the next test."""
    win.ask_save_changes = lambda: "discard"
    win.close()
    win.run_controller.wait_for_all(60000)
    QThreadPool.globalInstance().waitForDone(60000)
    _CLOSED.append(win)


def _pipeline_names(window: MainWindow) -> list[str]:
    group = window.explorer.model.item(0)
    return [group.child(i).text() for i in range(group.rowCount())]


def test_opening_the_demo_shows_its_pipelines_and_the_first_one_in_the_editor(window: MainWindow) -> None:
    assert _pipeline_names(window) == ["customers", "orders"]
    assert window.current_pipeline == "customers"
    assert window.pipeline_editor.tabs.isVisible()
    assert window.windowTitle().startswith("orders.etlproj")
    assert not window.isWindowModified()


def test_every_toolbar_action_has_a_tooltip_and_the_run_keys_are_set(window: MainWindow) -> None:
    for action in window.toolbar.actions():
        if not action.isSeparator():
            assert action.toolTip(), action.objectName()
            assert action.objectName()
    assert window.run_action.shortcut().toString() == "F5"
    assert window.run_all_action.shortcut().toString() == "Shift+F5"
    assert window.preview_action.shortcut().toString() == "F6"
    assert window.validate_action.shortcut().toString() == "F7"
    assert [s.toString() for s in window.stop_action.shortcuts()] == ["Esc", "Ctrl+."]
    assert not window.stop_action.isEnabled()  # nothing is running


def test_an_edit_puts_an_asterisk_in_the_title_and_undo_takes_it_away(window: MainWindow) -> None:
    window.explorer.add_pipeline("invoices")
    assert window.isWindowModified()
    assert "[*]" in window.windowTitle()
    assert _pipeline_names(window) == ["customers", "orders", "invoices"]
    window.undo_action.trigger()
    assert _pipeline_names(window) == ["customers", "orders"]
    assert not window.isWindowModified()
    window.redo_action.trigger()
    assert _pipeline_names(window) == ["customers", "orders", "invoices"]


def test_save_and_reopen_gives_an_identical_project(window: MainWindow, demo_dir: Path, tmp_path: Path) -> None:
    window.explorer.duplicate("orders")
    window.explorer.rename("pipeline", "orders (copy)", "orders_eu")
    saved = tmp_path / "elsewhere" / "copy.etlproj"
    assert window.save_as(saved)
    assert not window.isWindowModified()
    assert window.windowTitle().startswith("copy.etlproj")
    before = dumps_project(window.document.project)
    assert window.open_project(saved)
    assert dumps_project(window.document.project) == before
    assert dumps_project(load_project(saved)) == before
    assert [p.name for p in window.document.project.pipelines] == ["customers", "orders", "orders_eu"]


def test_a_project_with_an_unfinished_step_still_opens_and_names_the_problem(window: MainWindow, tmp_path: Path) -> None:
    window.pipeline_editor.show_tab("steps")
    window.pipeline_editor.steps_editor.add_step("sort")  # needs columns to sort by: not valid yet
    path = tmp_path / "unfinished.etlproj"
    assert window.save_as(path)
    assert window.open_project(path)
    assert window.document.project.pipelines[0].steps[-1].kind == "sort"


def test_closing_with_unsaved_changes_asks_and_cancel_keeps_the_window(window: MainWindow, monkeypatch) -> None:
    window.explorer.add_pipeline("draft")
    asked = []
    monkeypatch.setattr(window, "ask_save_changes", lambda: asked.append(True) or "cancel")
    assert not window.close()
    assert asked and window.isVisible()
    monkeypatch.setattr(window, "ask_save_changes", lambda: "discard")
    assert window.close()


def test_new_project_after_saving_starts_empty_with_a_hint(window: MainWindow, monkeypatch) -> None:
    window.explorer.add_pipeline("draft")
    monkeypatch.setattr(window, "ask_save_changes", lambda: "discard")
    assert window.new_project()
    assert window.document.project.pipelines == []
    assert window.explorer.model.item(0).child(0).text() == "No pipelines yet — click + to add one"
    assert "No pipelines yet" in window.pipeline_editor.empty.text()
    assert window.windowTitle().startswith("Untitled")


def test_explorer_renames_duplicates_and_deletes_with_confirmation(window: MainWindow, monkeypatch) -> None:
    explorer = window.explorer
    monkeypatch.setattr(explorer, "ask_name", lambda *a: "crm customers")
    explorer.select_pipeline("customers")
    explorer.rename_action.trigger()
    assert _pipeline_names(window) == ["crm customers", "orders"]
    assert window.current_pipeline == "crm customers"
    explorer.duplicate_action.trigger()
    assert _pipeline_names(window) == ["crm customers", "crm customers (copy)", "orders"]
    monkeypatch.setattr(explorer, "confirm", lambda *a: True)
    explorer.delete_action.trigger()
    assert _pipeline_names(window) == ["crm customers", "orders"]


def test_renaming_a_connection_updates_the_pipelines_that_use_it(window: MainWindow) -> None:
    assert window.explorer.rename("connection", "warehouse", "dwh")
    project = window.document.project
    assert [c.name for c in project.connections] == ["dwh"]
    assert {p.target.config["connection"] for p in project.pipelines} == {"dwh"}


def test_a_project_file_dropped_on_the_window_opens(qtbot, window: MainWindow, tmp_path: Path) -> None:
    other = tmp_path / "other.etlproj"
    other.write_text(dumps_project(load_project(window.document.path).model_copy(update={"name": "Dropped"})), encoding="utf-8")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(other))])
    enter = QDragEnterEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.projectOpened, timeout=5000):
        QApplication.sendEvent(window, drop)
    assert window.document.project.name == "Dropped"
    assert window.document.path == other.resolve()


def test_a_text_file_dropped_on_the_window_is_refused(window: MainWindow, tmp_path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "notes.txt"))])
    enter = QDragEnterEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert not enter.isAccepted()


def test_a_broken_project_file_says_what_is_wrong_and_keeps_the_open_one(window: MainWindow, tmp_path: Path, monkeypatch) -> None:
    broken = tmp_path / "broken.etlproj"
    broken.write_text('{"format": "etl-studio-project", "schema_version": 1, "pipelines": [{"name": "x"}]}', encoding="utf-8")
    errors = []
    monkeypatch.setattr(window, "show_error", lambda title, text: errors.append(text))
    assert not window.open_project(broken)
    assert "pipelines[0].source" in errors[0]
    assert window.document.project.name == "Orders demo"


def test_layout_and_recent_files_are_remembered_between_starts(qtbot, window: MainWindow, settings: QSettings, demo_dir: Path) -> None:
    window.docks["problems"].hide()
    window.resize(1000, 700)
    window.document.undo_stack.setClean()
    window.close()
    assert settings.value("lastProject") == str((demo_dir / "orders.etlproj").resolve())
    again = build_window(None, settings)  # no path: the last project opens
    try:
        _check_restored(again, demo_dir)
    finally:
        close_and_settle(again)


def _check_restored(again: MainWindow, demo_dir: Path) -> None:
    assert again.document.path == (demo_dir / "orders.etlproj").resolve()
    assert again.docks["problems"].isHidden()
    assert str((demo_dir / "orders.etlproj").resolve()) in again.recent_files()
    again._fill_recent_menu()
    assert again.recent_menu.actions()[0].toolTip() == str((demo_dir / "orders.etlproj").resolve())


def test_the_first_start_opens_the_bundled_demo(qtbot, settings: QSettings) -> None:
    win = build_window(None, settings, remember=False)
    try:
        assert win.document.path == DEMO_PROJECT.resolve()
        assert win.document.project.name == "Orders demo"
    finally:
        close_and_settle(win)


def test_a_last_project_that_no_longer_opens_gives_way_to_the_demo(qtbot, settings: QSettings, tmp_path: Path, monkeypatch) -> None:
    broken = tmp_path / "gone.etlproj"
    broken.write_text("{not json", encoding="utf-8")
    settings.setValue("lastProject", str(broken))
    errors: list[str] = []
    monkeypatch.setattr(MainWindow, "show_error", lambda self, title, text: errors.append(text))
    win = build_window(None, settings, remember=False)
    try:
        assert errors and "gone.etlproj" in errors[0]  # the analyst is told why their project did not open
        assert win.document.path == DEMO_PROJECT.resolve()
    finally:
        close_and_settle(win)


def test_clicking_a_problem_opens_the_tab_where_it_is(qtbot, window: MainWindow) -> None:
    orders = window.document.pipeline("orders")
    mapping = list(orders.mapping)
    mapping[1] = mapping[1].model_copy(update={"source": None, "expr": "upper(no_such_column)"})
    window.document.replace_pipeline("orders", orders.model_copy(update={"mapping": mapping}), "break an expression")
    panel = window.problems_panel
    with qtbot.waitSignal(panel.validated, timeout=20000):
        panel.validate_now(check_connections=False)
    paths = [p.path for p in panel.problems()]
    assert any(p.startswith("pipelines[1].mapping[1]") for p in paths), paths
    row = next(i for i, p in enumerate(panel.problems()) if p.path.startswith("pipelines[1].mapping[1]"))
    assert "orders › Mapping › column" in panel.model.index(row, 1).data()
    index = panel.model.index(row, 2)
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=panel.view.visualRect(index).center())
    assert window.current_pipeline == "orders"
    assert window.pipeline_editor.current_tab() == "mapping"


def test_a_clean_project_says_there_are_no_problems(qtbot, window: MainWindow) -> None:
    panel = window.problems_panel
    with qtbot.waitSignal(panel.validated, timeout=30000) as blocker:
        panel.validate_now(check_connections=True)
    assert blocker.args[0] == [], blocker.args[0]
    assert panel.summary.text() == "✓ No problems"
    assert panel.stack.currentWidget() is panel.empty


def test_the_scheduler_switch_runs_the_saved_schedules_and_the_schedule_tab_is_there(qtbot, window: MainWindow) -> None:
    window.pipeline_editor.show_tab("schedule")
    assert window.pipeline_editor.current_tab() == "schedule"
    with qtbot.waitSignal(window.scheduler.runningChanged, timeout=20000) as on:
        window.scheduler_action.trigger()
    assert on.args == [True] and window.scheduler_action.isChecked()
    assert "scheduler is on" in window.status_label.text()
    with qtbot.waitSignal(window.scheduler.runningChanged, timeout=20000) as off:
        window.scheduler_action.trigger()
    assert off.args == [False] and not window.scheduler_action.isChecked()


def test_an_unsaved_project_cannot_be_scheduled_and_says_why(window: MainWindow) -> None:
    window.new_project()
    window.scheduler_action.trigger()
    assert not window.scheduler_action.isChecked()
    assert "save the project first" in window.status_label.text()
