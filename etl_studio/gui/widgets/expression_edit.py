"""An expression editor that checks as you type (wavy underline + message) and completes names."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QEvent, QStringListModel, Qt, Signal
from PySide6.QtGui import QColor, QFocusEvent, QFontDatabase, QKeyEvent, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QCompleter, QLabel, QPlainTextEdit, QTextEdit, QToolTip, QVBoxLayout, QWidget

_WORD = re.compile(r"[A-Za-z0-9_]+$")
_SIMPLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ERROR_COLOUR = QColor("#d1242f")


def check(text: str, columns: Sequence[str], params: Sequence[str] = ()) -> list[Any]:
    """The engine's checker; each error has .message, .start and .end (a character span)."""
    from etl_studio.core.expressions import check_expression

    return list(check_expression(text, list(columns), params=tuple(params)))


def function_names() -> tuple[str, ...]:
    try:
        from etl_studio.core.expressions import FUNCTION_NAMES
    except ImportError:  # the engine's expression module is not there yet
        return ()
    return tuple(FUNCTION_NAMES)


def _message(error: Any) -> str:
    return str(getattr(error, "message", error))


class ExpressionEdit(QPlainTextEdit):
    """Enter commits (``editingFinished``), Shift+Enter breaks the line, Ctrl+Space completes."""

    expressionChanged = Signal(str, bool)  # text, valid; on every keystroke
    editingFinished = Signal(str)
    errorsChanged = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("expressionEdit")
        self.setTabChangesFocus(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setPlaceholderText("e.g. lower(trim(email))   —   Ctrl+Space completes column and function names")
        self.setToolTip(
            "A SQL expression over the source columns, e.g. quantity * unit_price or "
            "CASE WHEN country = 'DE' THEN 'Germany' ELSE country END.\n"
            "Ctrl+Space completes names; Enter applies; Shift+Enter starts a new line."
        )
        line = self.fontMetrics().lineSpacing()
        self.setFixedHeight(int(line * 3.2) + 12)
        self._columns: list[str] = []
        self._params: list[str] = []
        self._errors: list[Any] = []
        self._dirty_since_commit = False

        self._completion_model = QStringListModel(self)
        self.completer = QCompleter(self._completion_model, self)
        self.completer.setObjectName("expressionCompleter")
        self.completer.setWidget(self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.setModelSorting(QCompleter.ModelSorting.UnsortedModel)
        self.completer.setFilterMode(Qt.MatchFlag.MatchStartsWith)
        self.completer.activated.connect(self.insert_completion)
        self._refresh_completions()
        self.textChanged.connect(self._on_text_changed)

    # -- public
    def set_columns(self, columns: Sequence[str], params: Sequence[str] = ()) -> None:
        self._columns, self._params = list(columns), list(params)
        self._refresh_completions()
        self.validate()

    def columns(self) -> list[str]:
        return list(self._columns)

    def text(self) -> str:
        return self.toPlainText()

    def set_text(self, text: str) -> None:
        """Show ``text`` without counting as an edit (the cursor stays put when nothing changed)."""
        if text == self.toPlainText():
            return
        self.blockSignals(True)
        self.setPlainText(text)
        self.blockSignals(False)
        cursor = self.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        self.setTextCursor(cursor)
        self._dirty_since_commit = False
        self.validate()

    @property
    def errors(self) -> list[Any]:
        return list(self._errors)

    def is_valid(self) -> bool:
        return not self._errors

    def validate(self) -> list[Any]:
        text = self.toPlainText()
        if not text.strip():
            errors: list[Any] = []
        else:
            try:
                errors = check(text, self._columns, self._params)
            except ImportError:
                errors = []
        self._errors = errors
        self._underline(errors)
        self.errorsChanged.emit(errors)
        return errors

    def insert_completion(self, completion: str) -> None:
        cursor = self.textCursor()
        prefix = self.completer.completionPrefix()
        cursor.movePosition(QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor, len(prefix))
        cursor.insertText(completion)
        self.setTextCursor(cursor)

    # -- internals
    def _refresh_completions(self) -> None:
        columns = [c if _SIMPLE_NAME.match(c) else f'"{c}"' for c in self._columns]
        functions = [f"{name}(" for name in function_names()]
        self._completion_model.setStringList(columns + [f":{p}" for p in self._params] + functions)

    def _on_text_changed(self) -> None:
        self._dirty_since_commit = True
        errors = self.validate()
        self.expressionChanged.emit(self.toPlainText(), not errors)

    def _underline(self, errors: Sequence[Any]) -> None:
        selections = []
        length = len(self.toPlainText())
        for error in errors:
            start = max(0, min(int(getattr(error, "start", 0) or 0), length))
            end = max(start, min(int(getattr(error, "end", length) or length), length))
            if end == start:  # an error at the end (missing ")") still needs something to underline
                start, end = max(0, start - 1), max(start, min(length, start + 1)) if length else 0
            selection = QTextEdit.ExtraSelection()
            fmt = QTextCharFormat()
            fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
            fmt.setUnderlineColor(ERROR_COLOUR)
            fmt.setToolTip(_message(error))
            selection.format = fmt
            cursor = QTextCursor(self.document())
            cursor.setPosition(start)
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            selection.cursor = cursor
            selections.append(selection)
        self.setExtraSelections(selections)

    def _error_at(self, position: int) -> Any | None:
        for error in self._errors:
            start, end = int(getattr(error, "start", 0) or 0), int(getattr(error, "end", 0) or 0)
            if start <= position <= max(end, start + 1):
                return error
        return None

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            position = self.cursorForPosition(event.pos()).position()  # type: ignore[attr-defined]
            error = self._error_at(position)
            if error is not None:
                QToolTip.showText(event.globalPos(), _message(error), self)  # type: ignore[attr-defined]
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        popup = self.completer.popup()
        if popup.isVisible() and event.key() in (Qt.Key.Key_Enter, Qt.Key.Key_Return, Qt.Key.Key_Tab, Qt.Key.Key_Escape):
            event.ignore()  # the completer's popup takes these
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self._commit()
            return
        forced = event.key() == Qt.Key.Key_Space and event.modifiers() & Qt.KeyboardModifier.ControlModifier
        if not forced:
            super().keyPressEvent(event)
        self._update_completer(bool(forced), event.text())

    def _update_completer(self, forced: bool, typed: str) -> None:
        cursor = self.textCursor()
        before = self.toPlainText()[: cursor.position()]
        match = _WORD.search(before)
        prefix = match.group(0) if match else ""
        if not forced and (not typed or not (typed[-1:].isalnum() or typed[-1:] == "_") or len(prefix) < 1):
            self.completer.popup().hide()
            return
        self.completer.setCompletionPrefix(prefix)
        if self.completer.completionCount() == 0 or (
            self.completer.completionCount() == 1 and self.completer.currentCompletion() == prefix
        ):
            self.completer.popup().hide()
            return
        self.completer.popup().setCurrentIndex(self.completer.completionModel().index(0, 0))
        rect = self.cursorRect()
        rect.setWidth(self.completer.popup().sizeHintForColumn(0) + self.completer.popup().verticalScrollBar().sizeHint().width() + 8)
        self.completer.complete(rect)

    def _commit(self) -> None:
        self._dirty_since_commit = False
        self.editingFinished.emit(self.toPlainText())

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802
        if self._dirty_since_commit and not self.completer.popup().isVisible():
            self._commit()
        super().focusOutEvent(event)


class ExpressionField(QWidget):
    """The editor with a line under it saying what is wrong, or that the expression is fine."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("expressionField")
        self.edit = ExpressionEdit(self)
        self.message = QLabel(self)
        self.message.setObjectName("expressionMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.edit)
        layout.addWidget(self.message)
        self.edit.errorsChanged.connect(self._show_errors)
        self._show_errors([])

    def _show_errors(self, errors: list[Any]) -> None:
        if errors:
            text = "; ".join(_message(e) for e in errors[:3])
            self.message.setText(f"⚠ {text}")
            self.message.setStyleSheet(f"color: {ERROR_COLOUR.name()};")
        elif self.edit.toPlainText().strip():
            self.message.setText("✓ The expression is valid.")
            self.message.setStyleSheet("color: #1a7f37;")
        else:
            self.message.setText("Empty: the column is filled from a source column, or NULL.")
            self.message.setStyleSheet("color: #8a8f98;")
