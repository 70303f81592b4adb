"""Plan load, as an analyst approves a load: F8 shows what the load would insert, update, expire and delete, committing nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtGui import QAction, QKeySequence

from etl_studio.core.engine.plan import PLAN_KINDS, LoadPlan
from etl_studio.core.engine.events import RunFinished
from etl_studio.gui.dialogs.plan_dialog import PlanCountsModel, PlanDialog
from etl_studio.gui.main_window import MainWindow

from tests.gui._windows import copy_incremental, open_window, save_shot, settle

WAIT_MS = 60_000


@pytest.fixture
def project_path(tmp_path: Path) -> Path:
    return copy_incremental(tmp_path)


@pytest.fixture
def window(qtbot, project_path: Path, tmp_path: Path):
    win = open_window(qtbot, project_path, tmp_path)
    yield win
    for dialog in win.findChildren(PlanDialog):
        dialog.close()
    settle(win)


def _plan(qtbot, window: MainWindow) -> PlanDialog:
    with qtbot.waitSignal(window.statusChanged, timeout=WAIT_MS, check_params_cb=lambda text: "would do" in text or "no plan" in text):
        window.plan_action.trigger()
    dialog = window.plan_dialog
    assert dialog.plan is not None or dialog.error is not None
    return dialog


def _rows(project_path: Path) -> list[tuple]:
    db = project_path.parent / "warehouse.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        if not conn.execute("select 1 from sqlite_master where name = 'dim_customers'").fetchone():
            return []
        return conn.execute("select customer_id, name, is_current from dim_customers order by customer_id, version").fetchall()


def test_plan_load_is_in_the_toolbar_and_the_pipeline_menu_with_its_own_key(window: MainWindow) -> None:
    action = window.plan_action
    assert action in window.toolbar.actions() and action in window.pipeline_menu.actions()
    assert action.shortcut() == QKeySequence("F8")
    assert "nothing is committed" in action.toolTip() and "(F8)" in action.toolTip()
    taken = [a.shortcut() for a in window.findChildren(QAction) if a is not action and not a.shortcut().isEmpty()]
    assert QKeySequence("F8") not in taken


def test_the_first_plan_would_insert_every_customer_and_commits_nothing(qtbot, window: MainWindow, project_path: Path) -> None:
    dialog = _plan(qtbot, window)
    plan = dialog.plan
    assert {k: v for k, v in plan.counts.items() if v} == {"insert": 5}
    assert dialog.summary.text() == "5 row(s) read — the load would do: 5 to insert. Nothing was committed."
    assert "watermark would move from none to 2024-01-09T14:00:00" in dialog.details.text()
    assert dialog.tab_titles() == ["Insert (5)", "SQL"]
    assert dialog.sample_views["insert"].model().rowCount() == 5
    assert "etl_studio_stage" in dialog.sql_text.toPlainText()
    counts = dialog.counts_model
    assert [counts.index(r, 0).data() for r in range(counts.rowCount())][:4] == ["Insert", "Update", "Expire", "Delete"]
    assert counts.index(0, 1).data() == "5" and counts.index(2, 1).data() == "0"
    assert _rows(project_path) == []  # nothing committed, and the watermark did not move
    assert not dialog.progress.isVisible()
    save_shot(dialog, "plan_dialog.png")


def test_after_a_run_a_changed_customer_is_planned_as_one_expire_and_two_inserts(qtbot, window: MainWindow, project_path: Path) -> None:
    with qtbot.waitSignal(window.run_controller.event, timeout=WAIT_MS, check_params_cb=lambda e: isinstance(e, RunFinished)):
        window.run_current()
    loaded = _rows(project_path)
    assert len(loaded) == 5
    with (project_path.parent / "customers.csv").open("a", encoding="utf-8") as handle:
        handle.write("6,Barbara Liskov,barbara@example.com,US,2024-02-01 09:00:00\n")
        handle.write("2,Grace Brewster Hopper,grace@example.com,US,2024-02-02 10:00:00\n")
    dialog = _plan(qtbot, window)
    plan = dialog.plan
    assert plan.rows_read == 2
    assert plan.count("expire") == 1 and plan.count("insert") == 2
    assert "Expire (1)" in dialog.tab_titles()
    expired = dialog.sample_views["expire"].model()
    assert expired.rowCount() == 1
    assert _rows(project_path) == loaded  # the plan rolled back


def test_a_pipeline_that_cannot_run_gets_one_clear_line(qtbot, window: MainWindow, project_path: Path) -> None:
    (project_path.parent / "customers.csv").unlink()
    dialog = _plan(qtbot, window)
    assert dialog.plan is None
    assert dialog.error and "\n" not in dialog.error
    assert "customers.csv" in dialog.error_label.text()
    assert dialog.summary.text().startswith("No plan for 'dim_customers'")


def test_the_target_editor_button_plans_the_pipeline_shown(qtbot, window: MainWindow) -> None:
    window.pipeline_editor.show_tab("target")
    with qtbot.waitSignal(window.statusChanged, timeout=WAIT_MS, check_params_cb=lambda text: "would do" in text):
        window.pipeline_editor.target_editor.plan_button.click()
    assert window.plan_dialog.plan.count("insert") == 5


def test_the_counts_model_is_a_well_behaved_model(qtmodeltester) -> None:
    model = PlanCountsModel()
    qtmodeltester.check(model)
    model.set_plan(LoadPlan("p", rows_read=3, counts={"insert": 2, "quarantine": 1, "future_kind": 4}))
    qtmodeltester.check(model)
    assert model.rowCount() == len(PLAN_KINDS) + 1
    model.set_plan(None)
    qtmodeltester.check(model)
    QThreadPool.globalInstance().waitForDone()
