"""The database table target's editor: only the settings of the chosen load mode, with column pickers from the mapping."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QToolButton, QWidget

from etl_studio.gui.editors.forms import ConfigForm, FormContext, _ListEditor
from etl_studio.gui.editors.registry import target_editors
from etl_studio.gui.style import colour

MODES = ("append", "replace", "upsert", "merge", "scd2", "cdc")
SCD2_FIELDS = ("tracked_columns", "effective_from", "close_missing", "valid_from_column", "valid_to_column",
               "current_column", "version_column")
# The modes each setting belongs to (the config model refuses it elsewhere); settings not
# listed apply to every mode.
MODE_FIELDS: dict[str, tuple[str, ...]] = {
    "keys": ("upsert", "merge", "scd2", "cdc"),
    "delete_missing": ("merge",),
    **{name: ("scd2",) for name in SCD2_FIELDS},
    "hash_column": ("append", "replace", "upsert", "merge", "scd2"),
    "dead_letter_table": ("append", "upsert", "replace"),
    "max_rejected_rows": ("append", "upsert", "replace"),
}
# Settings that only mean something once another one is filled in.
NEEDS: dict[str, str] = {"partition_interval": "partition_column", "max_rejected_rows": "dead_letter_table"}
# Settings that name mapped columns (pickers offer the mapping's target columns).
COLUMN_PICKERS = ("keys", "tracked_columns", "effective_from", "partition_column")


def mode_descriptions(description: str) -> dict[str, str]:
    """'append: add the rows; replace: ...' -> {'append': 'add the rows', ...}."""
    parts = re.split(r"(?:^|;\s+)(" + "|".join(MODES) + r"):\s*", description or "")
    return {parts[i]: parts[i + 1].strip().rstrip(".") for i in range(1, len(parts) - 1, 2)}


def applies(field: str, mode: str) -> bool:
    return mode in MODE_FIELDS.get(field, MODES)


@target_editors.register("sql_table")
class SqlTableTargetEditor(ConfigForm):
    def __init__(self, model: type[BaseModel], config: dict[str, Any], context: FormContext, parent: QWidget | None = None) -> None:
        self._pickers: dict[str, QToolButton] = {}
        super().__init__(model, config, context, parent)
        mode_info = model.model_fields["mode"]
        self.mode_texts = mode_descriptions(mode_info.description or "")
        combo = self.editors["mode"].widget
        for i in range(combo.count()):  # type: ignore[attr-defined]
            text = self.mode_texts.get(combo.itemText(i))  # type: ignore[attr-defined]
            if text:
                combo.setItemData(i, text[0].upper() + text[1:] + ".", Qt.ItemDataRole.ToolTipRole)  # type: ignore[attr-defined]
        self.mode_hint = QLabel(self)
        self.mode_hint.setObjectName("targetModeHint")
        self.mode_hint.setWordWrap(True)
        self.mode_hint.setStyleSheet(f"color: {colour('muted').name()};")
        # Under the combo, in the mode's own field box (a separate form row gets too tall).
        combo.parentWidget().layout().insertWidget(1, self.mode_hint)
        for name in COLUMN_PICKERS:
            if name in self.editors:
                self._add_picker(name)
        self._sync_mode()

    # -- which settings show
    def validate(self) -> dict[str, Any] | None:
        result = super().validate()
        self._sync_mode()
        return result

    def _is_set(self, name: str) -> bool:
        editor = self.editors[name]
        value = self.value_of(name)
        return value not in (None, "", [], False) and value != editor.default()

    def field_visible(self, name: str) -> bool:
        label = self.findChild(QLabel, f"label_{name}")
        return label is not None and self.form_layout.isRowVisible(label)

    def _sync_mode(self) -> None:
        if "mode" not in self.editors or not hasattr(self, "mode_hint"):
            return
        mode = self.value_of("mode") or "append"
        for name in self.editors:
            visible = applies(name, mode) or self._is_set(name)  # a stray value stays visible, to be cleared
            if name in NEEDS:
                visible = visible and bool(self.value_of(NEEDS[name]))
            label = self.findChild(QLabel, f"label_{name}")
            if label is not None:
                self.form_layout.setRowVisible(label, visible)
        text = self.mode_texts.get(mode, "")
        self.mode_hint.setText(text[0].upper() + text[1:] + "." if text else "")
        keys = self.findChild(QLabel, "label_keys")
        if keys is not None:
            keys.setText("Business key *" if mode == "scd2" else "Keys *" if applies("keys", mode) else "Keys")

    def _on_edited(self, key: str) -> None:
        if key == "mode" and not self._loading:
            # Settings of the previous mode would make the new one invalid: they go, in the same
            # undo step as the mode (undo brings them back).
            mode = self.value_of("mode") or "append"
            for name, editor in self.editors.items():
                # Keys are kept: every mode accepts them (the primary key of a created table),
                # and the keyed modes need them back when the analyst returns to one.
                if name != "keys" and not applies(name, mode) and self._is_set(name):
                    with QSignalBlocker(editor.widget):
                        editor.write(editor.default())
        super()._on_edited(key)

    # -- column pickers
    def _add_picker(self, name: str) -> None:
        editor = self.editors[name]
        widget = editor.widget
        box = widget.parentWidget()
        holder = QWidget(box)
        row = QHBoxLayout(holder)
        row.setContentsMargins(0, 0, 0, 0)
        box.layout().replaceWidget(widget, holder)
        row.addWidget(widget, 1)
        button = QToolButton(holder)
        button.setObjectName(f"pick_{name}")
        button.setText("Choose ▾")
        button.setToolTip("Choose " + ("columns" if isinstance(editor, _ListEditor) else "a column") + " from the mapping's target columns")
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(button)
        menu.setObjectName(f"pickMenu_{name}")
        menu.aboutToShow.connect(lambda n=name, m=menu: self._fill_picker(n, m))
        button.setMenu(menu)
        row.addWidget(button)
        self._pickers[name] = button

    def picker_menu(self, name: str) -> QMenu:
        """The picker's menu, filled as it would be when opened."""
        menu = self._pickers[name].menu()
        self._fill_picker(name, menu)
        return menu

    def _fill_picker(self, name: str, menu: QMenu) -> None:
        menu.clear()
        columns = list(self.context.columns)
        if not columns:
            empty = menu.addAction("No target columns yet: map some in the Mapping tab")
            empty.setEnabled(False)
            return
        editor = self.editors[name]
        many = isinstance(editor, _ListEditor)
        chosen = self.value_of(name) or ([] if many else None)
        for column in columns:
            action = menu.addAction(column)
            action.setObjectName(f"pick_{name}_{column}")
            action.setCheckable(True)
            action.setChecked(column in chosen if many else column == chosen)
            action.toggled.connect(lambda on, c=column, n=name: self.pick(n, c, on))

    def pick(self, name: str, column: str, on: bool = True) -> None:
        """What choosing ``column`` in a picker does: add or remove it (a list), or set it."""
        editor = self.editors[name]
        if isinstance(editor, _ListEditor):
            current = list(self.value_of(name) or [])
            if on and column not in current:
                current.append(column)
            elif not on and column in current:
                current.remove(column)
            editor.write(current)
        else:
            editor.write(column if on else None)
        self._on_edited(name)
