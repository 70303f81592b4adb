"""The CSV source's editor: the generated form plus detection of encoding, delimiter and header."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from pydantic import BaseModel
import shiboken6
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

from etl_studio.gui.editors.forms import ConfigForm, FormContext
from etl_studio.gui.editors.lookups import detect_file_format
from etl_studio.gui.editors.pipeline_page import WorkerSlot
from etl_studio.gui.editors.registry import source_editors
from etl_studio.gui.icons import icon
from etl_studio.gui.style import set_status, status_label

_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", " ": "space"}


def describe_format(encoding: str, delimiter: str, has_header: bool) -> str:
    name = _DELIMITER_NAMES.get(delimiter, repr(delimiter))
    return f"Detected: {encoding} · delimiter {name} · {'first line is the header' if has_header else 'no header line'}"


@source_editors.register("csv_file")
class CsvFileEditor(ConfigForm):
    """Choosing a file detects its format at once; the detected values stay editable."""

    def __init__(self, model: type[BaseModel], config: dict[str, Any], context: FormContext, parent: QWidget | None = None) -> None:
        super().__init__(model, config, context, parent)
        self._detect_slot = WorkerSlot(self)
        holder = QWidget(self)
        row = QHBoxLayout(holder)
        row.setContentsMargins(0, 0, 0, 0)
        self.detected = status_label("csvDetectedFormat", holder)
        row.addWidget(self.detected, 1)
        self.detect_button = QPushButton(icon("refresh"), "Detect format", holder)
        self.detect_button.setObjectName("csvDetectButton")
        self.detect_button.setToolTip("Look at the file again and fill in encoding, delimiter and header line")
        self.detect_button.clicked.connect(lambda: self.detect())
        row.addWidget(self.detect_button)
        # Right under the file, next to the settings it fills in.
        self.form_layout.insertRow(1, "", holder)
        # Show what the file looks like at once, without changing settings the user chose.
        QTimer.singleShot(0, lambda: self.detect(apply=False) if shiboken6.isValid(self) else None)

    def _on_edited(self, key: str) -> None:
        super()._on_edited(key)
        if key == "path" and not self._loading:
            self.detect()

    def detect(self, apply: bool = True) -> None:
        """Detect the file's format; ``apply`` fills the fields with it (a newly chosen file)."""
        path = self.value_of("path")
        if not path:
            set_status(self.detected, "", "")
            return
        full = Path(path)
        full = full if full.is_absolute() else self.context.project_dir / full
        if not full.is_file():
            set_status(self.detected, "error", f"{path}: no such file — check the name or choose it with the button")
            return
        set_status(self.detected, "muted", "Detecting the format…")
        self._detect_slot.start(functools.partial(detect_file_format, full),
                                self._apply_detected if apply else self._show_detected,
                                lambda message: set_status(self.detected, "error", f"Cannot read {path}: {message}"))

    def _show_detected(self, found: tuple[str, str, bool]) -> None:
        encoding, delimiter, has_header = found
        text = describe_format(encoding, delimiter, has_header)
        differs = self.value_of("delimiter") not in (delimiter, "auto")
        set_status(self.detected, "warning" if differs else "ok",
                   text + (" — the delimiter above differs; click Detect format to use these" if differs else ""))

    def _apply_detected(self, found: tuple[str, str, bool]) -> None:
        encoding, delimiter, has_header = found
        set_status(self.detected, "ok", describe_format(encoding, delimiter, has_header))
        wanted = {"encoding": encoding, "delimiter": delimiter, "header_row": 0 if has_header else None}
        changed = False
        for key, value in wanted.items():
            editor = self.editors.get(key)
            if editor is not None and self.value_of(key) != value:
                editor.write(value)
                changed = True
        if changed:
            config = self.validate()
            if config is not None:
                self.configChanged.emit(config, "path")  # one undo step with the file choice
