"""The run history as an analyst reads it: runs listed, sorted, filtered, details with log and quarantine, re-run."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from PySide6.QtCore import Qt

from etl_studio.core.engine.events import RunFinished, RunLogLine
from etl_studio.core.history import RuleResult, RunRecord, RunStatus, open_run_store
from etl_studio.core.project.models import Pipeline, PluginSpec, Project
from etl_studio.gui.panels.history import HistoryPanel
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.qt_models.run_history import RunHistoryModel


def finished_run(store, pipeline: str, *, minutes_ago: int, status: RunStatus = RunStatus.SUCCEEDED, loaded: int = 100,
                 quarantined: int = 0, error: str | None = None) -> RunRecord:
    record = RunRecord(pipeline=pipeline, trigger="manual")
    record.move_to(RunStatus.RUNNING)
    record.move_to(status, error=error)
    start = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    record.created_at, record.started_at, record.finished_at = start, start, start + timedelta(seconds=2 + minutes_ago)
    record.rows_read, record.rows_loaded, record.rows_quarantined = loaded + quarantined, loaded, quarantined
    store.save_run(record)
    return record


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    store = open_run_store(None, tmp_path)
    finished_run(store, "customers", minutes_ago=30, loaded=50)
    finished_run(store, "orders", minutes_ago=20, loaded=900, quarantined=12)
    failing = finished_run(store, "orders", minutes_ago=10, status=RunStatus.FAILED, loaded=0, error="table orders is locked")
    store.add_logs([RunLogLine(failing.run_id, "orders", datetime.now(timezone.utc), "ERROR", "run failed: table orders is locked")])
    store.save_rule_results([RuleResult(failing.run_id, "valid e-mail", "regex", "warning", "quarantine", 912, 12, ["bob@: not an e-mail"])])
    rows = pd.DataFrame({"email": ["bob@"], "__rule__": ["valid e-mail"], "__reason__": ["not an e-mail address"]}, index=[7])
    store.add_quarantined(failing.run_id, "orders", rows)
    store.dispose()
    return tmp_path


def document(project_dir: Path) -> ProjectDocument:
    spec = PluginSpec(kind="csv_file", config={"path": "x.csv"})
    pipelines = [Pipeline(name=n, source=spec, target=spec) for n in ("customers", "orders")]
    return ProjectDocument(Project(pipelines=pipelines), project_dir / "p.etlproj")


def make_panel(qtbot, project_dir) -> HistoryPanel:
    doc = document(project_dir)
    widget = HistoryPanel(doc)
    qtbot.addWidget(widget)
    widget.resize(1100, 420)
    widget.show()
    qtbot.waitUntil(lambda: widget.model.rowCount() == 3, timeout=10_000)
    return widget


def test_runs_are_listed_newest_first_with_counts(qtbot, project_dir):
    widget = make_panel(qtbot, project_dir)
    first = widget.proxy.index(0, RunHistoryModel.STATUS)
    assert first.data() == "failed"
    assert first.data(Qt.ItemDataRole.DecorationRole) is not None
    assert widget.proxy.index(1, RunHistoryModel.QUARANTINED).data() == "12"
    assert widget.proxy.index(1, RunHistoryModel.LOADED).data() == "900"
    widget.view.sortByColumn(RunHistoryModel.LOADED, Qt.SortOrder.DescendingOrder)
    assert widget.proxy.index(0, RunHistoryModel.LOADED).data() == "900"


def test_filter_by_pipeline_status_and_text(qtbot, project_dir):
    widget = make_panel(qtbot, project_dir)
    widget.set_pipeline("orders")
    assert widget.proxy.rowCount() == 2
    widget.status_combo.setCurrentText("succeeded")
    assert widget.proxy.rowCount() == 1
    widget.status_combo.setCurrentIndex(0)
    qtbot.keyClicks(widget.search, "locked")
    assert widget.proxy.rowCount() == 1
    assert "1 of 3 runs" in widget.status_label.text()


def test_double_click_opens_details_with_log_rules_and_quarantine(qtbot, project_dir):
    widget = make_panel(qtbot, project_dir)
    index = widget.proxy.index(0, 1)
    rect = widget.view.visualRect(index)
    qtbot.mouseClick(widget.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(widget.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: len(widget.dialogs) >= 1, timeout=5000)
    dialog = widget.dialogs[-1]
    qtbot.waitUntil(lambda: dialog.details is not None, timeout=10_000)
    assert "locked" in dialog.error.toPlainText()
    assert dialog.log_model.rowCount() == 1
    assert dialog.rules_model.index(0, 6).data() == "12 row(s) failed"
    assert dialog.quarantine_model.rowCount() == 1
    assert "email" in list(dialog.quarantine_model.frame.columns)
    with qtbot.waitSignal(widget.rerunRequested) as blocker:
        dialog.rerun_button.click()
    assert blocker.args == ["orders"]


def test_a_finished_run_reloads_the_history(qtbot, project_dir):
    widget = make_panel(qtbot, project_dir)
    store = open_run_store(None, project_dir)
    record = finished_run(store, "customers", minutes_ago=1)
    store.dispose()
    with qtbot.waitSignal(widget.historyLoaded, timeout=5000):
        widget.handle_event(RunFinished(record))
    assert widget.model.rowCount() == 4


def test_rerun_of_the_selected_run(qtbot, project_dir):
    widget = make_panel(qtbot, project_dir)
    widget.view.selectRow(2)
    widget.view.setCurrentIndex(widget.proxy.index(2, 0))
    with qtbot.waitSignal(widget.rerunRequested) as blocker:
        widget.rerun_action.trigger()
    assert blocker.args == ["customers"]


def test_empty_history_says_what_to_do(qtbot, tmp_path):
    widget = HistoryPanel(document(tmp_path))
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.historyLoaded, timeout=5000):
        widget.refresh()
    assert widget.model.rowCount() == 0
    assert "No runs yet" in widget.view.placeholder


def test_history_models_pass_the_model_tester(qtbot, qtmodeltester, project_dir):
    widget = make_panel(qtbot, project_dir)
    qtmodeltester.check(widget.model)
    qtmodeltester.check(widget.proxy)
    dialog = widget.open_details(widget.model.run(0).run_id)
    qtbot.waitUntil(lambda: dialog.details is not None, timeout=10_000)
    qtmodeltester.check(dialog.rules_model)
    qtmodeltester.check(dialog.quarantine_model)
    qtmodeltester.check(dialog.log_model)
