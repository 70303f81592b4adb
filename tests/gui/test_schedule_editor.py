"""The schedule editor and the app's scheduler switch, as an analyst uses them: presets, cron typed live, next runs, runs by itself."""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from etl_studio.core.engine.events import RunFinished, RunLogLine
from etl_studio.core.history import RunStatus, open_run_store
from etl_studio.core.project import Connection, Pipeline, PluginSpec, Project, TargetColumn, load_project, save_project
from etl_studio.core.project.models import Schedule
from etl_studio.gui.panels.log import LogPanel
from etl_studio.gui.panels.schedule_editor import EDIT_TEXT, ScheduleEditor
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.scheduler_bridge import SchedulerBridge

WAIT_MS = 30_000


def make_pipeline(name: str = "orders", schedule: Schedule | None = None, csv_name: str | None = None) -> Pipeline:
    return Pipeline(
        name=name,
        source=PluginSpec(kind="csv_file", config={"path": csv_name or f"{name}.csv"}),
        mapping=[TargetColumn(name="id", type="integer", source="id", nullable=False)],
        target=PluginSpec(kind="sql_table", config={"connection": "warehouse", "table": name, "mode": "replace"}),
        schedule=schedule,
    )


def make_editor(qtbot, project: Project, pipeline: str | None = "orders") -> tuple[ScheduleEditor, ProjectDocument]:
    document = ProjectDocument(project)
    editor = ScheduleEditor(document)
    qtbot.addWidget(editor)
    editor.resize(640, 760)
    editor.show()
    editor.set_pipeline(pipeline)
    return editor, document


def test_without_a_pipeline_the_editor_says_what_to_do(qtbot) -> None:
    editor, _ = make_editor(qtbot, Project(pipelines=[make_pipeline()]), None)
    assert editor.empty.isVisible() and not editor.body.isVisible()


def test_clicking_the_daily_preset_schedules_the_pipeline_as_one_undoable_edit(qtbot) -> None:
    editor, document = make_editor(qtbot, Project(pipelines=[make_pipeline()]))
    assert not editor.enabled_box.isChecked()

    qtbot.mouseClick(editor.preset_buttons["daily"], Qt.MouseButton.LeftButton)

    schedule = document.pipeline("orders").schedule
    assert schedule is not None and schedule.cron == "0 2 * * *" and schedule.enabled
    assert editor.enabled_box.isChecked()
    assert document.undo_stack.undoText() == EDIT_TEXT
    assert editor.next_runs.count() == 5
    assert all("02:00 UTC" in editor.next_runs.item(i).text() for i in range(5))
    document.undo_stack.undo()
    assert document.pipeline("orders").schedule is None and not editor.enabled_box.isChecked()


def test_a_cron_is_checked_as_you_type_and_saved_only_when_valid(qtbot) -> None:
    editor, document = make_editor(qtbot, Project(pipelines=[make_pipeline(schedule=Schedule(cron="0 2 * * *"))]))
    editor.cron_edit.clear()
    qtbot.keyClicks(editor.cron_edit, "30 6 * *")
    assert editor.problem_label.isVisible() and "5 fields" in editor.problem_label.text()
    assert document.pipeline("orders").schedule.cron == "0 2 * * *"  # nothing saved while invalid
    assert "fix the schedule" in editor.next_runs.item(0).text()

    qtbot.keyClicks(editor.cron_edit, " 1-5")

    assert not editor.problem_label.isVisible()
    assert document.pipeline("orders").schedule.cron == "30 6 * * 1-5"
    days = {editor.next_runs.item(i).text()[:3] for i in range(editor.next_runs.count())}
    assert editor.next_runs.count() == 5 and days <= {"Mon", "Tue", "Wed", "Thu", "Fri"}
    # Typing one expression is one undo step, not one per key.
    assert document.undo_stack.count() == 1


def test_timezone_retries_timeout_and_sla_are_saved_and_a_bad_sla_is_explained(qtbot) -> None:
    editor, document = make_editor(qtbot, Project(pipelines=[make_pipeline(schedule=Schedule(cron="0 2 * * *"))]))
    editor.timezone_combo.setCurrentText("Europe/Berlin")
    editor.retries_spin.setValue(3)
    editor.timeout_spin.setValue(900)
    qtbot.keyClicks(editor.sla_edit, "6am")
    assert editor.problem_label.isVisible() and "HH:MM" in editor.problem_label.text()
    editor.sla_edit.clear()
    qtbot.keyClicks(editor.sla_edit, "06:00")

    schedule = document.pipeline("orders").schedule
    assert schedule is not None
    assert (schedule.timezone, schedule.retries, schedule.timeout_seconds, schedule.sla) == ("Europe/Berlin", 3, 900.0, "06:00")
    assert all(" CE" in editor.next_runs.item(i).text() for i in range(5))  # CET / CEST
    assert "SLA 06:00" in editor.summary_label.text()


def test_switching_off_keeps_the_settings_and_remove_forgets_them(qtbot) -> None:
    editor, document = make_editor(qtbot, Project(pipelines=[make_pipeline(schedule=Schedule(interval_seconds=3600, retries=2))]))
    assert editor.kind_combo.currentData() == "interval" and editor.interval_spin.value() == 3600

    qtbot.mouseClick(editor.enabled_box, Qt.MouseButton.LeftButton)
    schedule = document.pipeline("orders").schedule
    assert schedule is not None and not schedule.enabled and schedule.retries == 2
    assert "not active" in editor.summary_label.text()

    qtbot.mouseClick(editor.remove_button, Qt.MouseButton.LeftButton)
    assert document.pipeline("orders").schedule is None
    document.undo_stack.undo()
    assert document.pipeline("orders").schedule is not None


def test_the_editor_looks_right(qtbot, tmp_path: Path) -> None:
    editor, _ = make_editor(qtbot, Project(pipelines=[make_pipeline(schedule=Schedule(cron="0 6 * * 1-5", timezone="Europe/Berlin", retries=2, sla="08:00"))]))
    picture = tmp_path / "schedule_editor.png"
    assert editor.grab().save(str(picture))
    assert picture.stat().st_size > 10_000


# -- the scheduler inside the app -------------------------------------------------------------------

def saved_project(folder: Path, *pipelines: Pipeline, csv_files: tuple[str, ...] = ("orders.csv",)) -> ProjectDocument:
    for name in csv_files:
        with (folder / name).open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id"])
            writer.writerows([i] for i in range(10))
    project = Project(name="App test", connections=[Connection(name="warehouse", url="sqlite:///warehouse.db")], pipelines=list(pipelines))
    path = save_project(project, folder / "app.etlproj")
    return ProjectDocument(load_project(path), path)


@pytest.fixture
def bridges():
    made: list[SchedulerBridge] = []
    yield made
    for bridge in made:
        bridge.shutdown()


def test_scheduled_runs_reach_the_live_log_and_the_history_with_trigger_schedule(qtbot, tmp_path: Path, bridges) -> None:
    document = saved_project(tmp_path, make_pipeline(schedule=Schedule(interval_seconds=1)))
    bridge = SchedulerBridge(document)
    bridges.append(bridge)
    log_panel = LogPanel(document)
    qtbot.addWidget(log_panel)
    bridge.event.connect(log_panel.handle_event)
    finished: list[RunFinished] = []
    bridge.event.connect(lambda e: finished.append(e) if isinstance(e, RunFinished) else None)

    with qtbot.waitSignal(bridge.runningChanged, timeout=WAIT_MS) as switched:
        assert bridge.start()
    assert switched.args == [True]
    next_run = bridge.next_run_time("orders")
    assert next_run is not None and next_run >= datetime.now(timezone.utc).replace(microsecond=0)
    qtbot.waitUntil(lambda: len(finished) >= 2, timeout=WAIT_MS)
    bridge.stop()
    qtbot.waitUntil(lambda: not bridge.is_running(), timeout=WAIT_MS)

    assert {e.record.trigger for e in finished} == {"schedule"}
    assert all(e.record.status is RunStatus.SUCCEEDED for e in finished)
    log_panel.flush()
    messages = [log_panel.model.index(r, log_panel.model.MESSAGE).data() for r in range(log_panel.model.rowCount())]
    assert any("started (trigger: schedule)" in m for m in messages)
    bridge.shutdown()
    store = open_run_store(None, tmp_path)
    triggers = {r.trigger for r in store.list_runs("orders")}
    store.dispose()
    assert triggers == {"schedule"}


def test_a_failed_scheduled_run_raises_a_notification(qtbot, tmp_path: Path, bridges) -> None:
    document = saved_project(tmp_path, make_pipeline(schedule=Schedule(interval_seconds=1), csv_name="missing.csv"))
    bridge = SchedulerBridge(document)
    bridges.append(bridge)
    with qtbot.waitSignal(bridge.notified, timeout=WAIT_MS) as told:
        bridge.start()
    title, text = told.args
    assert title == "'orders' failed" and "CSV file not found" in text


def test_a_second_scheduler_on_the_same_project_is_refused_with_who_holds_it(qtbot, tmp_path: Path, bridges) -> None:
    document = saved_project(tmp_path, make_pipeline(schedule=Schedule(cron="0 2 * * *")))
    first, second = SchedulerBridge(document), SchedulerBridge(ProjectDocument(load_project(document.path), document.path))
    bridges.extend([first, second])
    assert first.start()
    with qtbot.waitSignal(second.refused, timeout=WAIT_MS) as refused:
        assert not second.start()
    assert "already run by app (pid" in refused.args[0]
    assert not second.is_running() and second.next_run_time("orders") is None


def test_saving_the_project_moves_the_schedule(qtbot, tmp_path: Path, bridges) -> None:
    document = saved_project(tmp_path, make_pipeline(schedule=Schedule(cron="0 2 * * *")))
    bridge = SchedulerBridge(document)
    bridges.append(bridge)
    bridge.start()
    before = bridge.next_run_time("orders")
    assert before is not None and before.hour == 2
    editor = ScheduleEditor(document)
    qtbot.addWidget(editor)
    editor.set_pipeline("orders")
    editor.cron_edit.clear()
    qtbot.keyClicks(editor.cron_edit, "45 4 * * *")
    assert bridge.next_run_time("orders") == before  # edited, not saved: the file is the truth

    with qtbot.waitSignal(bridge.nextRunsChanged, timeout=WAIT_MS):
        document.save()

    after = bridge.next_run_time("orders")
    assert after is not None and (after.hour, after.minute) == (4, 45)


def test_an_unsaved_project_cannot_be_scheduled(qtbot, bridges) -> None:
    bridge = SchedulerBridge(ProjectDocument(Project(pipelines=[make_pipeline(schedule=Schedule(cron="0 2 * * *"))])))
    bridges.append(bridge)
    with qtbot.waitSignal(bridge.refused, timeout=WAIT_MS) as refused:
        assert not bridge.start()
    assert "save the project first" in refused.args[0]


def test_log_lines_of_scheduled_runs_are_run_log_lines(qtbot, tmp_path: Path, bridges) -> None:
    document = saved_project(tmp_path, make_pipeline(schedule=Schedule(interval_seconds=1)))
    bridge = SchedulerBridge(document)
    bridges.append(bridge)
    lines: list[RunLogLine] = []
    bridge.event.connect(lambda e: lines.append(e) if isinstance(e, RunLogLine) else None)
    bridge.start()
    qtbot.waitUntil(lambda: any("run finished" in line.message for line in lines), timeout=WAIT_MS)
    assert {line.pipeline for line in lines} == {"orders"}
