"""The log panel while runs write: batched lines, colours by level, filters, search, copy, clear, a cap."""

from __future__ import annotations

from datetime import datetime, timezone

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from etl_studio.core.engine.events import RunLogLine
from etl_studio.core.project.models import Project
from etl_studio.gui.panels.log import LogPanel
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.qt_models.log import LogModel


def line(message: str, level: str = "INFO", pipeline: str = "orders", run_id: str = "r1") -> RunLogLine:
    return RunLogLine(run_id, pipeline, datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), level, message)


def make_panel(qtbot, max_lines: int = 50_000) -> LogPanel:
    panel = LogPanel(ProjectDocument(Project()), max_lines=max_lines)
    qtbot.addWidget(panel)
    panel.show()
    return panel


def test_lines_of_a_run_arrive_in_one_batch(qtbot):
    panel = make_panel(qtbot)
    inserts = []
    panel.model.rowsInserted.connect(lambda *_: inserts.append(1))
    with qtbot.waitSignal(panel.linesAdded, timeout=2000) as blocker:
        for i in range(5000):
            panel.handle_event(line(f"chunk {i} loaded"))
    assert blocker.args == [5000]
    assert len(inserts) == 1
    assert panel.model.rowCount() == 5000
    assert "5,000 lines" in panel.count_label.text()


def test_levels_are_coloured_and_filtered(qtbot):
    panel = make_panel(qtbot)
    for level in ("DEBUG", "INFO", "WARNING", "ERROR"):
        panel.handle_event(line(f"a {level.lower()} line", level))
    panel.flush()
    error = panel.model.index(3, LogModel.MESSAGE)
    info = panel.model.index(1, LogModel.MESSAGE)
    assert error.data(Qt.ItemDataRole.ForegroundRole).color() != info.data(Qt.ItemDataRole.ForegroundRole).color()
    assert panel.proxy.rowCount() == 3  # "Info and above" hides DEBUG by default
    panel.level_combo.setCurrentIndex(3)  # errors only
    assert panel.proxy.rowCount() == 1
    assert panel.proxy.index(0, LogModel.MESSAGE).data() == "a error line"


def test_filter_by_pipeline_and_search(qtbot):
    panel = make_panel(qtbot)
    panel.handle_event(line("read 200 rows", pipeline="customers"))
    panel.handle_event(line("quarantined 3 rows", pipeline="orders"))
    panel.handle_event(line("read 1000 rows", pipeline="orders"))
    panel.flush()
    panel.pipeline_combo.setCurrentText("orders")
    assert panel.proxy.rowCount() == 2
    qtbot.keyClicks(panel.search, "QUARANTINED")
    assert panel.proxy.rowCount() == 1
    assert "1 of 3 lines" in panel.count_label.text()


def test_copy_and_clear(qtbot):
    panel = make_panel(qtbot)
    panel.handle_event(line("first"))
    panel.handle_event(line("second", "WARNING"))
    panel.flush()
    text = panel.copy()
    assert text.splitlines()[1].endswith("WARNING\torders\tsecond")
    assert QGuiApplication.clipboard().text() == text
    panel.clear_action.trigger()
    assert panel.model.rowCount() == 0


def test_the_log_keeps_only_the_newest_lines(qtbot):
    panel = make_panel(qtbot, max_lines=100)
    for i in range(250):
        panel.handle_event(line(f"line {i}"))
    panel.flush()
    assert panel.model.rowCount() == 100
    assert panel.model.line(0).message == "line 150"
    panel.handle_event(line("one more"))
    panel.flush()
    assert panel.model.rowCount() == 100 and panel.model.line(99).message == "one more"


def test_log_models_pass_the_model_tester(qtbot, qtmodeltester):
    panel = make_panel(qtbot)
    for level in ("INFO", "ERROR"):
        panel.handle_event(line("x", level))
    panel.flush()
    qtmodeltester.check(panel.model)
    qtmodeltester.check(panel.proxy)
