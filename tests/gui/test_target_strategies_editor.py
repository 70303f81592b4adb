"""The target editor's load strategies, as an analyst uses them: only the chosen mode's settings, column pickers, the SQL it will run."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel

from etl_studio.core.project import load_project
from etl_studio.core.targets.sql_table import SqlTableConfig
from etl_studio.gui.editors.sql_table import SCD2_FIELDS, SqlTableTargetEditor, applies, mode_descriptions
from etl_studio.gui.panels.pipeline_editor import PipelineEditor
from etl_studio.gui.project_document import ProjectDocument

from tests.gui._windows import copy_incremental, save_shot, settle

WAIT_MS = 30_000


@pytest.fixture
def editor(qtbot, tmp_path: Path):
    path = copy_incremental(tmp_path)
    document = ProjectDocument(load_project(path), path)
    widget = PipelineEditor(document)
    widget.resize(1000, 900)
    widget.show()
    widget.set_pipeline("dim_customers")
    widget.show_tab("target")
    yield widget
    settle(widget)


def _form(editor: PipelineEditor) -> SqlTableTargetEditor:
    form = editor.target_editor.form
    assert isinstance(form, SqlTableTargetEditor)
    return form


def _visible(form: SqlTableTargetEditor) -> set[str]:
    return {name for name in form.editors if form.field_visible(name)}


def _choose_mode(form: SqlTableTargetEditor, mode: str) -> None:
    combo = form.editors["mode"].widget
    combo.setCurrentIndex(combo.findText(mode))


def _config(editor: PipelineEditor) -> dict:
    return editor.document.pipeline("dim_customers").target.config


def _wait_sql(qtbot, editor: PipelineEditor, text: str) -> str:
    qtbot.waitUntil(lambda: text in editor.target_editor.plan_text.toPlainText(), timeout=WAIT_MS)
    return editor.target_editor.plan_text.toPlainText()


def test_scd2_shows_its_history_settings_and_hides_the_other_modes(qtbot, editor: PipelineEditor) -> None:
    form = _form(editor)
    visible = _visible(form)
    assert set(SCD2_FIELDS) <= visible
    assert {"connection", "table", "mode", "keys", "hash_column", "partition_column"} <= visible
    assert not {"delete_missing", "dead_letter_table", "max_rejected_rows", "partition_interval"} & visible
    assert form.findChild(QLabel, "label_keys").text() == "Business key *"
    assert form.mode_hint.text().startswith("Keep history")
    # Every setting explains itself where the analyst points.
    for name, info in SqlTableConfig.model_fields.items():
        key = info.alias or name
        assert form.findChild(QLabel, f"label_{key}").toolTip() == info.description
    sql = _wait_sql(qtbot, editor, "close the current version")
    assert "CREATE TABLE dim_customers" in sql and "is_current" in sql
    save_shot(editor, "target_scd2.png")


def test_choosing_merge_drops_the_scd2_settings_in_one_undoable_step_and_shows_delete_missing(qtbot, editor: PipelineEditor) -> None:
    form = _form(editor)
    before = dict(_config(editor))
    _choose_mode(form, "merge")
    config = _config(editor)
    assert config["mode"] == "merge" and config["keys"] == ["customer_id"]
    assert not {"tracked_columns", "effective_from"} & set(config)
    SqlTableConfig.model_validate(config)
    visible = _visible(form)
    assert "delete_missing" in visible and not set(SCD2_FIELDS) & visible
    assert form.findChild(QLabel, "label_keys").text() == "Keys *"
    _wait_sql(qtbot, editor, "etl_studio_stage")
    editor.document.undo_stack.undo()
    assert _config(editor) == before
    assert set(SCD2_FIELDS) <= _visible(form)


def test_append_offers_a_dead_letter_table_and_its_limit_only_once_named(qtbot, editor: PipelineEditor) -> None:
    form = _form(editor)
    _choose_mode(form, "append")
    config = _config(editor)
    assert config.get("mode", "append") == "append" and not {"tracked_columns", "effective_from"} & set(config)
    # The key stays (the created table's primary key) and so stays in sight, to be cleared.
    assert config["keys"] == ["customer_id"] and form.field_visible("keys")
    assert form.findChild(QLabel, "label_keys").text() == "Keys"
    visible = _visible(form)
    assert "dead_letter_table" in visible and "max_rejected_rows" not in visible
    line = form.editors["dead_letter_table"].widget
    qtbot.keyClicks(line, "rejected_customers")
    assert _config(editor)["dead_letter_table"] == "rejected_customers"
    assert "max_rejected_rows" in _visible(form)
    _choose_mode(form, "merge")  # the dead-letter table is no merge setting: it goes
    assert "dead_letter_table" not in _config(editor)


def test_key_and_column_pickers_offer_the_mapped_target_columns(qtbot, editor: PipelineEditor) -> None:
    form = _form(editor)
    _choose_mode(form, "upsert")
    menu = form.picker_menu("keys")
    names = [a.text() for a in menu.actions()]
    assert names == ["customer_id", "name", "email", "country", "updated_at"]
    assert [a.text() for a in menu.actions() if a.isChecked()] == ["customer_id"]
    next(a for a in menu.actions() if a.text() == "email").trigger()
    assert _config(editor)["keys"] == ["customer_id", "email"]
    next(a for a in form.picker_menu("keys").actions() if a.text() == "customer_id").trigger()
    assert _config(editor)["keys"] == ["email"]
    _wait_sql(qtbot, editor, "ON CONFLICT")
    # A single-column picker sets the value.
    _choose_mode(form, "scd2")
    form.editors["keys"].write(["customer_id"])
    form.pick("effective_from", "updated_at")
    assert _config(editor)["effective_from"] == "updated_at"


def test_the_mode_list_explains_each_mode() -> None:
    texts = mode_descriptions(SqlTableConfig.model_fields["mode"].description or "")
    assert set(texts) == {"append", "replace", "upsert", "merge", "scd2", "cdc"}
    assert texts["merge"].startswith("load into a staging table")
    assert applies("delete_missing", "merge") and not applies("delete_missing", "upsert")
    assert not applies("hash_column", "cdc")


def test_a_cdc_mode_without_a_cdc_source_is_flagged_in_the_target_editor(qtbot, editor: PipelineEditor) -> None:
    form = _form(editor)
    _choose_mode(form, "cdc")
    assert _config(editor)["mode"] == "cdc"
    warning = editor.target_editor.cdc_warning
    assert not warning.isHidden() and "needs a pg_cdc source" in warning.text()
    _wait_sql(qtbot, editor, "captured changes")
