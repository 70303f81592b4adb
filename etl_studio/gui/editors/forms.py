"""ConfigForm: a QWidget form built from a plugin's pydantic config model, validated as you type."""

from __future__ import annotations

import enum
import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from etl_studio.gui.icons import icon
from etl_studio.gui.style import SPACING, colour

_UNSET = object()  # "leave this key out": the model's default applies

# Field names that hold column names, connection names, file paths or SQL: the form
# offers the right chooser for them. A plugin that wants more registers its own editor.
COLUMN_FIELDS = {"column", "columns", "key", "keys", "key_columns", "by", "group_by", "order_by", "source_column", "on"}
PATH_FIELDS = {"path", "file", "folder", "directory"}
LONG_TEXT_FIELDS = {"query", "sql"}


@dataclass
class FormContext:
    """What a form may offer as choices: known columns, the project's connections, its folder."""

    columns: list[str] = field(default_factory=list)
    connections: list[str] = field(default_factory=list)
    project_dir: Path = field(default_factory=Path.cwd)
    # Called with a connection name; returns nothing, fills the table list later through
    # the form's set_table_choices (reflection runs in a worker).
    request_tables: Callable[[str], None] | None = None


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


def _bounds(info: FieldInfo) -> tuple[float | None, float | None]:
    low = high = None
    for meta in info.metadata:
        if getattr(meta, "ge", None) is not None:
            low = meta.ge
        if getattr(meta, "gt", None) is not None:
            low = meta.gt + 1 if isinstance(meta.gt, int) else meta.gt
        if getattr(meta, "le", None) is not None:
            high = meta.le
        if getattr(meta, "lt", None) is not None:
            high = meta.lt - 1 if isinstance(meta.lt, int) else meta.lt
    return low, high


def humanise(name: str) -> str:
    return name.replace("_", " ").capitalize()


class FieldEditor:
    """One field's widget and how to read and write its value (None read = leave out)."""

    def __init__(self, name: str, info: FieldInfo, annotation: Any, optional: bool, widget: QWidget) -> None:
        self.name, self.info, self.annotation, self.optional, self.widget = name, info, annotation, optional, widget

    def read(self) -> Any:
        raise NotImplementedError

    def write(self, value: Any) -> None:
        raise NotImplementedError

    def connect(self, slot: Callable[[], None]) -> None:
        raise NotImplementedError

    def default(self) -> Any:
        if self.info.is_required():
            return None
        return self.info.get_default(call_default_factory=True)


class _TextEditor(FieldEditor):
    def __init__(self, *args: Any, line: QLineEdit, container: QWidget | None = None) -> None:
        super().__init__(*args)
        self.line = line

    def read(self) -> Any:
        text = self.line.text()
        if text == "":
            # Empty means "not given": the default applies, or the model says it is required.
            return None if self.optional else _UNSET
        return text

    def write(self, value: Any) -> None:
        text = "" if value is None else str(value)
        if self.line.text() != text:
            self.line.setText(text)

    def connect(self, slot: Callable[[], None]) -> None:
        self.line.textEdited.connect(lambda _t: slot())


class _LongTextEditor(FieldEditor):
    def read(self) -> Any:
        text = self.widget.toPlainText()  # type: ignore[attr-defined]
        if text == "" and (self.optional or not self.info.is_required()):
            return None if self.optional else _UNSET
        return text

    def write(self, value: Any) -> None:
        text = "" if value is None else str(value)
        if self.widget.toPlainText() != text:  # type: ignore[attr-defined]
            self.widget.setPlainText(text)  # type: ignore[attr-defined]

    def connect(self, slot: Callable[[], None]) -> None:
        self.widget.textChanged.connect(slot)  # type: ignore[attr-defined]


class _ComboTextEditor(FieldEditor):
    """An editable combo: a free text value with suggestions (columns, connections, tables)."""

    def read(self) -> Any:
        text = self.widget.currentText()  # type: ignore[attr-defined]
        if text == "":
            return None if self.optional else _UNSET
        return text

    def write(self, value: Any) -> None:
        text = "" if value is None else str(value)
        combo: QComboBox = self.widget  # type: ignore[assignment]
        if combo.currentText() != text:
            combo.setCurrentText(text)

    def connect(self, slot: Callable[[], None]) -> None:
        combo: QComboBox = self.widget  # type: ignore[assignment]
        combo.currentTextChanged.connect(lambda _t: slot())


class _BoolEditor(FieldEditor):
    def read(self) -> Any:
        return self.widget.isChecked()  # type: ignore[attr-defined]

    def write(self, value: Any) -> None:
        checked = bool(value)
        if self.widget.isChecked() != checked:  # type: ignore[attr-defined]
            self.widget.setChecked(checked)  # type: ignore[attr-defined]

    def connect(self, slot: Callable[[], None]) -> None:
        self.widget.toggled.connect(lambda _c: slot())  # type: ignore[attr-defined]


class _IntEditor(FieldEditor):
    """A spin box; for an optional field its lowest value reads "(not set)"."""

    def read(self) -> Any:
        box: QSpinBox = self.widget  # type: ignore[assignment]
        if self.optional and box.value() == box.minimum():
            return None
        return box.value()

    def write(self, value: Any) -> None:
        box: QSpinBox = self.widget  # type: ignore[assignment]
        target = box.minimum() if value is None else int(value)
        if box.value() != target:
            box.setValue(target)

    def connect(self, slot: Callable[[], None]) -> None:
        self.widget.valueChanged.connect(lambda _v: slot())  # type: ignore[attr-defined]


class _FloatEditor(_TextEditor):
    def read(self) -> Any:
        text = self.line.text().strip()
        if text == "":
            return None if self.optional else _UNSET
        try:
            return float(text)
        except ValueError:
            return text  # the model says why it is not a number

    def write(self, value: Any) -> None:
        text = "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
        if self.line.text() != text:
            self.line.setText(text)


class _ScalarEditor(_TextEditor):
    """A union of numbers and text (``int | float``): typed as text, read as the number it spells."""

    def read(self) -> Any:
        text = self.line.text().strip()
        if text == "":
            return None if self.optional else _UNSET
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text

    def write(self, value: Any) -> None:
        text = "" if value is None else str(value)
        if self.read() != value:
            self.line.setText(text)


_SCALARS = (int, float, str, bool)


def _is_scalar_union(annotation: Any) -> bool:
    import decimal

    origin = typing.get_origin(annotation)
    return origin in (Union, types.UnionType) and all(
        a in (*_SCALARS, decimal.Decimal, type(None)) for a in typing.get_args(annotation))


class _ChoiceEditor(FieldEditor):
    """Literal / Enum: a fixed list; an optional one has an empty first entry."""

    def __init__(self, *args: Any, choices: list[Any]) -> None:
        super().__init__(*args)
        self.choices = ([None] if self.optional else []) + choices
        combo: QComboBox = self.widget  # type: ignore[assignment]
        for choice in self.choices:
            combo.addItem("" if choice is None else str(getattr(choice, "value", choice)))

    def read(self) -> Any:
        index = self.widget.currentIndex()  # type: ignore[attr-defined]
        value = self.choices[index] if 0 <= index < len(self.choices) else None
        return getattr(value, "value", value)

    def write(self, value: Any) -> None:
        values = [getattr(c, "value", c) for c in self.choices]
        raw = getattr(value, "value", value)
        if raw in values and self.widget.currentIndex() != values.index(raw):  # type: ignore[attr-defined]
            self.widget.setCurrentIndex(values.index(raw))  # type: ignore[attr-defined]

    def connect(self, slot: Callable[[], None]) -> None:
        self.widget.currentIndexChanged.connect(lambda _i: slot())  # type: ignore[attr-defined]


def split_list(text: str) -> list[str]:
    """``a, "", "x, y"`` -> ['a', '', 'x, y']: commas separate, quotes keep empty or odd items
    ("" inside quotes is one quote); an unquoted empty item (a trailing comma) is dropped."""
    items: list[str] = []
    i, n = 0, len(text)
    while i <= n:
        while i < n and text[i] == " ":
            i += 1
        if i < n and text[i] == '"':
            i += 1
            chars: list[str] = []
            while i < n:
                if text[i] == '"':
                    if i + 1 < n and text[i + 1] == '"':
                        chars.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                chars.append(text[i])
                i += 1
            items.append("".join(chars))
            comma = text.find(",", i)
            i = n + 1 if comma < 0 else comma + 1
        else:
            comma = text.find(",", i)
            end = n if comma < 0 else comma
            value = text[i:end].strip()
            if value:
                items.append(value)
            i = end + 1
    return items


def join_list(values: list[str]) -> str:
    def show(value: str) -> str:
        if value == "" or "," in value or '"' in value or value != value.strip():
            return '"' + value.replace('"', '""') + '"'
        return value

    return ", ".join(show(str(v)) for v in values)


class _ListEditor(_TextEditor):
    """list[str] as comma-separated text (column lists are short); quote an empty item as ""."""

    def read(self) -> Any:
        text = self.line.text().strip()
        if text == "":
            return None if self.optional else _UNSET if not self.info.is_required() else []
        return split_list(text)

    def write(self, value: Any) -> None:
        wanted = [str(v) for v in value] if value else []
        current = self.read()
        if (current if isinstance(current, list) else []) != wanted:
            self.line.setText(join_list(wanted))


class _JsonEditor(FieldEditor):
    """Anything else (dicts, nested models, lists of numbers): JSON text."""

    def read(self) -> Any:
        text = self.widget.toPlainText().strip()  # type: ignore[attr-defined]
        if text == "":
            return None if self.optional else _UNSET
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            return _JsonError(f"not valid JSON: {exc.msg} (line {exc.lineno})")

    def write(self, value: Any) -> None:
        if self.read() == value:
            return
        self.widget.setPlainText("" if value is None else json.dumps(value, indent=1))  # type: ignore[attr-defined]

    def connect(self, slot: Callable[[], None]) -> None:
        self.widget.textChanged.connect(slot)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _JsonError:
    message: str


class ConfigForm(QWidget):
    """Edits one plugin config. Emits ``configChanged(config, field)`` only for valid configs;
    an invalid value shows its message under the field and the project keeps the last good one."""

    configChanged = Signal(dict, str)
    validityChanged = Signal(bool)

    def __init__(self, model: type[BaseModel], config: dict[str, Any] | None = None, context: FormContext | None = None,
                 parent: QWidget | None = None, *, object_name: str = "configForm") -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.model = model
        self.context = context or FormContext()
        self.editors: dict[str, FieldEditor] = {}
        self.error_labels: dict[str, QLabel] = {}
        self._loading = False
        self._valid = True

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(SPACING)
        self.form_layout = QFormLayout()
        self.form_layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form_layout.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.form_layout.setSpacing(SPACING)
        outer.addLayout(self.form_layout)
        self.general_error = QLabel(self)
        self.general_error.setObjectName("formError")
        self.general_error.setWordWrap(True)
        self.general_error.hide()
        outer.addWidget(self.general_error)

        if not model.model_fields:
            empty = QLabel("This has nothing to configure.", self)
            empty.setObjectName("formNothingToConfigure")
            empty.setStyleSheet(f"color: {colour('muted').name()};")
            outer.addWidget(empty)
        for name, info in model.model_fields.items():
            self._add_field(info.alias or name, info)
        self.set_config(config or {})

    # -- building
    def _add_field(self, key: str, info: FieldInfo) -> None:
        annotation, optional = _unwrap_optional(info.annotation)
        origin = typing.get_origin(annotation)
        editor: FieldEditor
        lowered = key.lower()
        if annotation is bool:
            editor = _BoolEditor(key, info, annotation, optional, QCheckBox(self))
        elif origin is Literal or (isinstance(annotation, type) and issubclass(annotation, enum.Enum)):
            choices = list(typing.get_args(annotation)) if origin is Literal else list(annotation)
            editor = _ChoiceEditor(key, info, annotation, optional, QComboBox(self), choices=choices)
        elif annotation is int:
            box = QSpinBox(self)
            low, high = _bounds(info)
            box.setRange(int(low) if low is not None else -2_000_000_000, int(high) if high is not None else 2_000_000_000)
            if optional:
                box.setMinimum(box.minimum() - 1)
                box.setSpecialValueText("(not set)")
            editor = _IntEditor(key, info, annotation, optional, box)
        elif annotation is float:
            line = QLineEdit(self)
            editor = _FloatEditor(key, info, annotation, optional, line, line=line)
        elif _is_scalar_union(annotation):
            line = QLineEdit(self)
            line.setPlaceholderText("empty: not set" if optional else "")
            editor = _ScalarEditor(key, info, annotation, optional, line, line=line)
        elif origin is list and typing.get_args(annotation) in ((str,), ()):
            line = QLineEdit(self)
            line.setPlaceholderText("comma-separated" + (", e.g. " + ", ".join(self.context.columns[:2]) if self.context.columns and lowered in COLUMN_FIELDS else ""))
            if lowered in COLUMN_FIELDS and self.context.columns:
                line.setCompleter(_ListCompleter(self.context.columns, line))
            editor = _ListEditor(key, info, annotation, optional, line, line=line)
        elif annotation is str and lowered in LONG_TEXT_FIELDS:
            text = QPlainTextEdit(self)
            text.setObjectName("sourceQuery" if lowered == "query" else f"field_{key}_text")
            text.setMaximumHeight(110)
            editor = _LongTextEditor(key, info, annotation, optional, text)
        elif annotation is str and (lowered == "connection" or lowered in COLUMN_FIELDS or lowered == "table"):
            combo = QComboBox(self)
            combo.setEditable(True)
            combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
            choices = self.context.connections if lowered == "connection" else self.context.columns if lowered != "table" else []
            combo.addItems(choices)
            combo.setCurrentIndex(-1)  # a suggestion is not a choice: start empty
            editor = _ComboTextEditor(key, info, annotation, optional, combo)
        elif annotation is str:
            line = QLineEdit(self)
            editor = _TextEditor(key, info, annotation, optional, line, line=line)
        else:
            text = QPlainTextEdit(self)
            text.setMaximumHeight(90)
            text.setPlaceholderText("JSON")
            editor = _JsonEditor(key, info, annotation, optional, text)

        editor.widget.setObjectName(f"field_{key}")
        tip = info.description or ""
        editor.widget.setToolTip(tip)
        row_widget: QWidget = editor.widget
        if annotation is str and lowered in PATH_FIELDS:
            row_widget = self._with_button(editor, "browse", "Choose a file…", self._browse_path)
        elif annotation is str and lowered == "table":
            row_widget = self._with_button(editor, "refresh", "List the tables of the connection", self._browse_tables)

        error = QLabel(self)
        error.setObjectName(f"error_{key}")
        error.setProperty("role", "field-error")
        error.setWordWrap(True)
        error.setStyleSheet(f"color: {colour('error').name()};")
        error.hide()
        box = QWidget(self)
        box_layout = QVBoxLayout(box)
        box_layout.setContentsMargins(0, 0, 0, 0)
        box_layout.setSpacing(2)
        box_layout.addWidget(row_widget)
        box_layout.addWidget(error)
        label = QLabel(humanise(key) + ("" if not info.is_required() else " *"), self)
        label.setToolTip(tip)
        label.setObjectName(f"label_{key}")
        self.form_layout.addRow(label, box)
        self.editors[key] = editor
        self.error_labels[key] = error
        editor.connect(lambda k=key: self._on_edited(k))

    def _with_button(self, editor: FieldEditor, icon_name: str, tip: str, handler: Callable[[FieldEditor], None]) -> QWidget:
        holder = QWidget(self)
        layout = QHBoxLayout(holder)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(SPACING)
        layout.addWidget(editor.widget, 1)
        button = QToolButton(holder)
        button.setObjectName(f"button_{editor.name}")
        button.setIcon(icon(icon_name))
        button.setToolTip(tip)
        button.clicked.connect(lambda: handler(editor))
        layout.addWidget(button)
        return holder

    def _browse_path(self, editor: FieldEditor) -> None:
        start = str(self.context.project_dir)
        if editor.name.lower() in ("folder", "directory"):
            chosen = QFileDialog.getExistingDirectory(self, "Choose a folder", start)
        else:
            chosen, _ = QFileDialog.getOpenFileName(self, "Choose a file", start)
        if chosen:
            self.set_path(editor.name, chosen)

    def set_path(self, key: str, chosen: str) -> None:
        """Set a path field as the user chose it: relative to the project when it lies inside."""
        path = Path(chosen)
        try:
            path = path.resolve().relative_to(self.context.project_dir.resolve())
        except ValueError:
            pass
        self.editors[key].write(path.as_posix())
        self._on_edited(key)

    def _browse_tables(self, _editor: FieldEditor) -> None:
        connection = self.value_of("connection")
        if self.context.request_tables and connection:
            self.context.request_tables(connection)

    def set_table_choices(self, tables: list[str]) -> None:
        editor = self.editors.get("table")
        if editor is None:
            return
        combo: QComboBox = editor.widget  # type: ignore[assignment]
        with QSignalBlocker(combo):
            current = combo.currentText()
            combo.clear()
            combo.addItems(tables)
            combo.setCurrentText(current)
        if tables and not current:
            combo.showPopup()

    def set_columns(self, columns: list[str]) -> None:
        """Offer these column names in column fields (the columns reaching this plugin)."""
        self.context.columns = list(columns)
        for key, editor in self.editors.items():
            if key.lower() not in COLUMN_FIELDS:
                continue
            if isinstance(editor, _ComboTextEditor):
                combo: QComboBox = editor.widget  # type: ignore[assignment]
                with QSignalBlocker(combo):
                    current = combo.currentText()
                    combo.clear()
                    combo.addItems(columns)
                    combo.setCurrentText(current)
            elif isinstance(editor, _ListEditor):
                editor.line.setCompleter(_ListCompleter(columns, editor.line))

    # -- values
    def raw_values(self) -> dict[str, Any]:
        values = {}
        for key, editor in self.editors.items():
            value = editor.read()
            if value is not _UNSET:
                values[key] = value
        return values

    def value_of(self, key: str) -> Any:
        editor = self.editors.get(key)
        if editor is None:
            return None
        value = editor.read()
        return None if value is _UNSET else value

    def set_config(self, config: dict[str, Any]) -> None:
        """Show ``config`` (undo, another pipeline); only fields that differ are rewritten,
        so the cursor stays where the user is typing."""
        self._loading = True
        try:
            for key, editor in self.editors.items():
                value = config.get(key, editor.default())
                current = editor.read()
                # An empty widget reads as "not given"; it must still show a non-empty default.
                differs = value not in (None, "", [], {}) if current is _UNSET else current != value
                if differs:
                    with QSignalBlocker(editor.widget):
                        editor.write(value)
        finally:
            self._loading = False
        self.validate()

    def validate(self) -> dict[str, Any] | None:
        """The config as the project stores it, or None (and messages shown) when invalid."""
        values = self.raw_values()
        messages: dict[str, str] = {}
        general: list[str] = []
        for key, value in values.items():
            if isinstance(value, _JsonError):
                messages[key] = value.message
        result: dict[str, Any] | None = None
        if not messages:
            try:
                parsed = self.model.model_validate(values)
            except ValidationError as exc:
                for error in exc.errors():
                    loc = error.get("loc", ())
                    text = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
                    if error.get("type") == "missing":
                        text = "required"
                    if loc and loc[0] in self.editors:
                        messages.setdefault(str(loc[0]), text)
                    else:
                        general.append(text)
            else:
                result = parsed.model_dump(mode="json", exclude_defaults=True, by_alias=True)
                # exclude_defaults does not see defaults made by a default_factory.
                for name, info in self.model.model_fields.items():
                    key = info.alias or name
                    if key in result and not info.is_required() and result[key] == info.get_default(call_default_factory=True):
                        del result[key]
        for key, label in self.error_labels.items():
            if key in messages:
                label.setText(messages[key])
                label.show()
            else:
                label.hide()
        if general:
            self.general_error.setText("✗ " + "; ".join(general))
            self.general_error.setStyleSheet(f"color: {colour('error').name()};")
            self.general_error.show()
        else:
            self.general_error.hide()
        valid = result is not None
        if valid != self._valid:
            self._valid = valid
            self.validityChanged.emit(valid)
        return result

    @property
    def is_valid(self) -> bool:
        return self._valid

    def errors(self) -> dict[str, str]:
        """Messages shown now, by field; a message about the whole config is under ''."""
        found = {k: label.text() for k, label in self.error_labels.items() if not label.isHidden()}
        if not self.general_error.isHidden():
            found[""] = self.general_error.text().removeprefix("✗ ")
        return found

    def _on_edited(self, key: str) -> None:
        if self._loading:
            return
        config = self.validate()
        if config is not None:
            self.configChanged.emit(config, key)


class _ListCompleter(QCompleter):
    """Completes the last item of a comma-separated list."""

    def __init__(self, words: list[str], parent: QLineEdit) -> None:
        super().__init__(words, parent)
        self.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    def pathFromIndex(self, index: Any) -> str:  # noqa: N802 - Qt's name
        line: QLineEdit = self.parent()  # type: ignore[assignment]
        head = line.text().rsplit(",", 1)[0] + ", " if "," in line.text() else ""
        return head + str(index.data())

    def splitPath(self, path: str) -> list[str]:  # noqa: N802 - Qt's name
        return [path.rsplit(",", 1)[-1].strip()]
