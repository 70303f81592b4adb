"""The pipeline editor's tabs as an analyst uses them: source, steps, rules and target."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt, QThreadPool
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from PySide6.QtWidgets import QToolButton as QToolButtonType

from etl_studio.core.project import Connection, Pipeline, PluginSpec, Project, RuleSpec, StepSpec, TargetColumn
from etl_studio.gui.panels.pipeline_editor import PipelineEditor
from etl_studio.gui.project_document import ProjectDocument

_KEEP: list[PipelineEditor] = []


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    (tmp_path / "people.csv").write_text("id;email;age\n1;a@x.org;31\n2;b@x.org;42\n3;;27\n", encoding="utf-8")
    return tmp_path


@pytest.fixture
def editor(qtbot, project_dir: Path):
    project = Project(
        connections=[Connection(name="dw", url="sqlite:///dw.db")],
        pipelines=[Pipeline(
            name="people",
            source=PluginSpec(kind="csv_file", config={"path": "people.csv", "delimiter": ";"}),
            steps=[StepSpec(kind="clean", config={"trim": True}), StepSpec(kind="dedupe")],
            mapping=[TargetColumn(name="id", type="integer", nullable=False, source="id"), TargetColumn(name="email", source="email")],
            rules=[RuleSpec(kind="not_null", name="email present", config={"column": "email"})],
            target=PluginSpec(kind="sql_table", config={"connection": "dw", "table": "people"}),
        )],
    )
    document = ProjectDocument(project, project_dir / "people.etlproj")
    widget = PipelineEditor(document)
    widget.resize(1000, 700)
    widget.show()
    widget.set_pipeline("people")
    yield widget
    QThreadPool.globalInstance().waitForDone(30000)
    widget.hide()
    _KEEP.append(widget)  # late worker results must find their widgets


def _steps(editor: PipelineEditor) -> list[str]:
    return [s.kind for s in editor.document.pipeline("people").steps]


def test_adding_a_step_from_the_palette_appends_it_and_opens_its_form(editor: PipelineEditor) -> None:
    editor.show_tab("steps")
    steps = editor.steps_editor
    action = steps.palette_menu.findChild(type(steps.palette_menu.actions()[0]), "addStep_sort") or next(
        a for a in steps.palette_menu.actions() if a.objectName() == "addStep_sort")
    action.trigger()
    assert _steps(editor) == ["clean", "dedupe", "sort"]
    assert steps.selected_row() == 2
    assert steps.form is not None and steps.form.errors().get("by") == "required"
    assert editor.tabs.tabText(1) == "Steps (3)"
    editor.document.undo_stack.undo()
    assert _steps(editor) == ["clean", "dedupe"]


def test_dragging_a_step_onto_another_place_reorders_the_steps(qtbot, editor: PipelineEditor) -> None:
    editor.show_tab("steps")
    view = editor.steps_editor.view
    model = editor.steps_editor.model
    mime = model.mimeData([model.index(1, 0)])  # drag "dedupe" ...
    target = QPointF(view.visualRect(model.index(0, 0)).topLeft() + QPoint(5, 1))  # ... above "clean"
    enter = QDragEnterEvent(target, Qt.DropAction.MoveAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), enter)
    move = QDragMoveEvent(target, Qt.DropAction.MoveAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), move)
    drop = QDropEvent(target, Qt.DropAction.MoveAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), drop)
    assert _steps(editor) == ["dedupe", "clean"]
    assert editor.document.undo_stack.undoText().startswith("Move step")


def test_unchecking_a_step_disables_it_and_the_buttons_move_it(editor: PipelineEditor) -> None:
    steps = editor.steps_editor
    model = steps.model
    model.setData(model.index(0, 0), Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert [s.enabled for s in editor.document.pipeline("people").steps] == [False, True]
    assert editor.tabs.tabText(1) == "Steps (1)"
    steps.select_row(0)
    steps.down_action.trigger()
    assert _steps(editor) == ["dedupe", "clean"]
    assert steps.selected_row() == 1
    steps.remove_action.trigger()
    assert _steps(editor) == ["dedupe"]


def test_configuring_a_step_in_its_form_changes_the_project(qtbot, editor: PipelineEditor) -> None:
    steps = editor.steps_editor
    steps.select_row(0)
    steps._show_selected()
    form = steps.form
    form.editors["trim"].widget.setChecked(False)
    assert editor.document.pipeline("people").steps[0].config == {"trim": False}


def test_the_steps_tab_without_steps_says_what_to_do(editor: PipelineEditor) -> None:
    pipeline = editor.document.pipeline("people")
    editor.document.replace_pipeline("people", pipeline.model_copy(update={"steps": []}), "no steps")
    assert editor.steps_editor.list_stack.currentWidget() is editor.steps_editor.list_empty
    assert "Add step" in editor.steps_editor.list_empty.text()


def test_rules_are_added_edited_and_deleted_in_the_rules_table(qtbot, editor: PipelineEditor) -> None:
    editor.show_tab("rules")
    rules = editor.rules_editor
    assert rules.model.index(0, 2).data() == "email"
    row = rules.add_rule("range", column="id")
    assert row == 1
    assert [r.name for r in editor.document.pipeline("people").rules] == ["email present", "range_id"]
    rules.severity_combo.setCurrentIndex(rules.severity_combo.findData("warning"))
    rules.severity_combo.activated.emit(rules.severity_combo.currentIndex())
    rules.form.editors["min"].widget.setText("1")
    rules.form.editors["min"].widget.textEdited.emit("1")
    assert editor.document.pipeline("people").rules[1].config == {"column": "id", "min": 1}
    assert editor.document.pipeline("people").rules[1].severity == "warning"
    rules.name_edit.setText("id positive")
    rules.name_edit.editingFinished.emit()
    assert editor.document.pipeline("people").rules[1].name == "id positive"
    rules.name_edit.setText("email present")
    rules.name_edit.editingFinished.emit()
    assert "already named" in rules.name_error.text()
    rules.select_row(0)
    rules.remove_action.trigger()
    assert [r.name for r in editor.document.pipeline("people").rules] == ["id positive"]


@dataclass
class FakePreview:
    rule_counts: dict[str, int] = field(default_factory=dict)


def test_the_rules_table_shows_how_many_preview_rows_each_rule_fails(editor: PipelineEditor) -> None:
    rules = editor.rules_editor
    failing = rules.model.index(0, rules.model.FAILING)
    assert failing.data() == "—"
    rules.handle_preview(FakePreview({"email present": 1}))
    assert failing.data() == "1"
    assert "1 of the preview rows fail" in failing.data(Qt.ItemDataRole.ToolTipRole)


def test_choosing_a_csv_file_detects_its_format_and_lists_its_columns(qtbot, editor: PipelineEditor, project_dir: Path) -> None:
    (project_dir / "pipes.csv").write_text("code|name\n01|a\n02|b\n", encoding="latin-1")
    source = editor.source_editor
    with qtbot.waitSignal(source.columnsLoaded, timeout=20000) as first:
        source.load_columns(force=True)
    assert [(c.name, c.type) for c in first.args[0]] == [("id", "integer"), ("email", "string"), ("age", "integer")]
    assert source.columns_model.index(1, 2).data().startswith("a@x.org")
    form = source.form
    with qtbot.waitSignal(source.columnsLoaded, timeout=20000) as second:
        form.set_path("path", str(project_dir / "pipes.csv"))
        qtbot.waitUntil(lambda: form.detected.text().startswith("✓ Detected"), timeout=20000)
    assert "pipe" in form.detected.text()
    config = editor.document.pipeline("people").source.config
    assert config["path"] == "pipes.csv" and config["delimiter"] == "|"
    qtbot.waitUntil(lambda: [c.name for c in source.columns_model.columns] == ["code", "name"], timeout=20000)
    assert source.columns_model.columns[0].type == "string"  # '01' stays text


def test_a_missing_file_says_so_under_the_columns(qtbot, editor: PipelineEditor) -> None:
    source = editor.source_editor
    pipeline = editor.document.pipeline("people")
    source_spec = pipeline.source.model_copy(update={"config": {"path": "nope.csv"}})
    with qtbot.waitSignal(source.columnsLoaded, timeout=20000):
        editor.document.replace_pipeline("people", pipeline.model_copy(update={"source": source_spec}), "missing file")
    assert source.columns_status.text().startswith("✗ Cannot read the source")
    assert "nope.csv" in source.columns_status.text()


def test_the_target_tab_shows_the_table_ddl_and_the_load_statement(qtbot, editor: PipelineEditor) -> None:
    editor.show_tab("target")
    target = editor.target_editor
    target.describe(force=True)
    qtbot.waitUntil(lambda: "CREATE TABLE" in target.plan_text.toPlainText(), timeout=20000)
    assert "INSERT" in target.plan_text.toPlainText()
    assert not target.form.field_visible("keys")  # keys are asked for by the keyed modes only
    target.form.editors["mode"].widget.setCurrentIndex(target.form.editors["mode"].widget.findText("upsert"))
    assert target.form.errors(), "upsert without keys must say what is missing"
    assert target.form.field_visible("keys")
    target.form.editors["keys"].widget.setText("id")
    target.form.editors["keys"].widget.textEdited.emit("id")
    assert editor.document.pipeline("people").target.config["keys"] == ["id"]
    qtbot.waitUntil(lambda: "upsert" in target.plan_text.toPlainText().lower() or "on conflict" in target.plan_text.toPlainText().lower(),
                    timeout=20000)


def test_a_database_source_lists_the_tables_of_its_connection(qtbot, editor: PipelineEditor, project_dir: Path) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{project_dir / 'dw.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("create table customers (id integer, name text)"))
        conn.execute(sa.text("insert into customers values (1, 'Ann'), (2, 'Bo')"))
    engine.dispose()
    source = editor.source_editor
    source.set_kind("sql_table")
    assert editor.document.pipeline("people").source.kind == "sql_table"
    form = source.form
    form.editors["connection"].widget.setCurrentText("dw")
    qtbot.mouseClick(form.findChild(type(form.findChild(QToolButtonType, "button_table")), "button_table"), Qt.MouseButton.LeftButton)
    combo = form.editors["table"].widget
    qtbot.waitUntil(lambda: combo.findText("customers") >= 0, timeout=20000)
    combo.setCurrentText("customers")
    assert editor.document.pipeline("people").source.config == {"connection": "dw", "table": "customers"}
    qtbot.waitUntil(lambda: [c.name for c in source.columns_model.columns] == ["id", "name"], timeout=20000)
