"""The generated config forms: each field type gets the right widget, bad values are said inline."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QPlainTextEdit, QSpinBox

from etl_studio.core import plugins
from etl_studio.core.plugin_base import PluginConfig
from etl_studio.gui.editors import ConfigForm, FormContext, create_editor, editor_factory
from etl_studio.gui.editors.csv_file import CsvFileEditor


class ExampleConfig(PluginConfig):
    column: str = Field(description="The column to look at")
    label: str = Field("", description="A free text")
    limit: int = Field(10, ge=1, le=1000, description="At most this many")
    ratio: float = Field(0.5, description="A fraction")
    strict: bool = Field(False, description="Stop at the first problem")
    mode: Literal["fast", "exact"] = Field("fast", description="How to compute")
    columns: list[str] = Field(default_factory=list, description="Several columns")
    note: str | None = Field(None, description="Optional text")
    top: int | None = Field(None, ge=0, description="Optional number")
    extra: dict[str, int] = Field(default_factory=dict, description="Anything else")

    @field_validator("label")
    @classmethod
    def _no_spaces(cls, value: str) -> str:
        if " " in value:
            raise ValueError("no spaces in a label")
        return value


def _form(qtbot, config=None, columns=("id", "email")) -> ConfigForm:
    form = ConfigForm(ExampleConfig, {"column": "id"} if config is None else config, FormContext(columns=list(columns)))
    qtbot.addWidget(form)
    return form


def test_each_field_type_gets_its_widget_and_its_description_as_tooltip(qtbot) -> None:
    form = _form(qtbot)
    widgets = {key: editor.widget for key, editor in form.editors.items()}
    assert isinstance(widgets["column"], QComboBox) and widgets["column"].isEditable()
    assert [widgets["column"].itemText(i) for i in range(widgets["column"].count())] == ["id", "email"]
    assert isinstance(widgets["label"], QLineEdit)
    assert isinstance(widgets["limit"], QSpinBox) and (widgets["limit"].minimum(), widgets["limit"].maximum()) == (1, 1000)
    assert isinstance(widgets["ratio"], QLineEdit)
    assert isinstance(widgets["strict"], QCheckBox)
    assert isinstance(widgets["mode"], QComboBox) and widgets["mode"].count() == 2
    assert isinstance(widgets["columns"], QLineEdit)
    assert isinstance(widgets["top"], QSpinBox) and widgets["top"].specialValueText() == "(not set)"
    assert isinstance(widgets["extra"], QPlainTextEdit)
    assert widgets["limit"].toolTip() == "At most this many"
    assert form.findChild(QLineEdit, "field_label") is widgets["label"]


def test_editing_a_field_emits_the_valid_config_without_defaults(qtbot) -> None:
    form = _form(qtbot)
    with qtbot.waitSignal(form.configChanged) as blocker:
        form.editors["mode"].widget.setCurrentIndex(1)
    assert blocker.args == [{"column": "id", "mode": "exact"}, "mode"]
    emitted = []
    form.configChanged.connect(lambda config, key: emitted.append(config))
    form.editors["columns"].widget.setCompleter(None)  # its popup would take the keys offscreen
    qtbot.keyClicks(form.editors["columns"].widget, "id, email")
    assert emitted[-1]["columns"] == ["id", "email"]
    with qtbot.waitSignal(form.configChanged) as blocker:
        form.editors["top"].widget.setValue(5)
    assert blocker.args[0]["top"] == 5


def test_a_bad_value_shows_its_message_under_the_field_and_emits_nothing(qtbot) -> None:
    form = _form(qtbot)
    emitted = []
    form.configChanged.connect(lambda config, key: emitted.append(config))
    qtbot.keyClicks(form.editors["label"].widget, "a b")
    assert emitted[-1:] != [{"column": "id", "label": "a b"}]
    assert form.errors() == {"label": "no spaces in a label"}
    assert not form.is_valid
    assert form.error_labels["label"].isVisibleTo(form)
    form.editors["label"].widget.clear()
    qtbot.keyClicks(form.editors["label"].widget, "ab")
    assert form.errors() == {}
    assert emitted[-1] == {"column": "id", "label": "ab"}


def test_a_missing_required_field_says_required_and_bad_json_is_named(qtbot) -> None:
    form = _form(qtbot, config={})
    assert form.errors() == {"column": "required"}
    form.set_config({"column": "email"})
    assert form.errors() == {}
    form.editors["extra"].widget.setPlainText("{not json")
    assert "not valid JSON" in form.errors()["extra"]


def test_set_config_shows_another_config_without_emitting(qtbot) -> None:
    form = _form(qtbot)
    emitted = []
    form.configChanged.connect(lambda *a: emitted.append(a))
    form.set_config({"column": "email", "strict": True, "columns": ["a", "b"], "note": "hi"})
    assert emitted == []
    assert form.raw_values()["strict"] is True
    assert form.editors["columns"].widget.text() == "a, b"
    assert form.value_of("note") == "hi"


def test_every_registered_plugin_gets_an_editor(qtbot) -> None:
    plugins.load_builtin_plugins()
    for group, registry in plugins.REGISTRIES.items():
        for kind, _cls in registry.items():
            editor = create_editor(group, kind, {}, FormContext())
            qtbot.addWidget(editor)
            assert editor.objectName() == f"{group}Editor_{kind}"


def test_the_csv_source_has_its_own_editor_and_others_the_generated_form() -> None:
    assert editor_factory("source", "csv_file") is CsvFileEditor
    assert editor_factory("step", "clean").__name__ == "_default_factory"


def test_a_list_with_an_empty_item_shows_it_quoted_and_keeps_it(qtbot) -> None:
    form = _form(qtbot, config={"column": "id", "columns": ["", "N/A", "a, b"]})
    assert form.editors["columns"].widget.text() == '"", N/A, "a, b"'
    assert form.validate() == {"column": "id", "columns": ["", "N/A", "a, b"]}


def test_a_default_made_by_a_factory_is_shown_and_not_written_back(qtbot) -> None:
    plugins.load_builtin_plugins()
    form = create_editor("step", "clean", {}, FormContext())
    qtbot.addWidget(form)
    assert form.editors["null_tokens"].widget.text().startswith('"", NULL')
    assert form.validate() == {}
