"""The source editor's "Incremental load" group: the pipeline's Incremental settings and its current watermark."""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from etl_studio.core.engine.incremental import parse_watermark, window_for
from etl_studio.core.errors import InvalidInputError
from etl_studio.core.project.models import Incremental, Pipeline
from etl_studio.core.sources.base import SourceColumn
from etl_studio.gui.editors.forms import ConfigForm, FormContext
from etl_studio.gui.editors.lookups import read_watermark, reset_watermark, set_watermark
from etl_studio.gui.editors.pipeline_page import WorkerSlot
from etl_studio.gui.icons import icon
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.style import SPACING, colour, set_status, status_label

# Column names that usually grow with each new or changed row, best first.
_TIMESTAMP_NAMES = re.compile(r"(updated|modified|changed|last_?update|_at$|timestamp|date|time)", re.IGNORECASE)
_ID_NAMES = re.compile(r"(^id$|_id$|^id_|seq|serial|number)", re.IGNORECASE)


def guess_incremental(columns: list[SourceColumn]) -> Incremental | None:
    """A sensible first setting: a date/time column named like updated_at, else an id column."""
    def is_time(c: SourceColumn) -> bool:
        return any(word in (c.type or "").lower() for word in ("date", "time"))

    def is_int(c: SourceColumn) -> bool:
        return "int" in (c.type or "").lower()

    for test, kind in ((lambda c: is_time(c) and _TIMESTAMP_NAMES.search(c.name), "timestamp"),
                       (is_time, "timestamp"),
                       (lambda c: _TIMESTAMP_NAMES.search(c.name) and not is_int(c), "timestamp"),
                       (lambda c: is_int(c) and _ID_NAMES.search(c.name), "id")):
        found = next((c for c in columns if test(c)), None)
        if found is not None:
            return Incremental(column=found.name, kind=kind)  # type: ignore[arg-type]
    return None


def describe_watermark(mark: Any) -> str:
    if mark is None:
        return "none yet"
    by = f"run {mark.run_id[:8]}" if mark.run_id else "set by hand"
    when = mark.updated_at.astimezone().strftime("%Y-%m-%d %H:%M")
    return f"{mark.value}  ({by}, {when})"


class IncrementalEditor(QGroupBox):
    """On: each run reads only rows past the watermark. Edits are undoable; the watermark lives in
    the state database, so Set and Reset change it at once (Reset asks first)."""

    watermarkChanged = Signal(object)  # Watermark | None, after every read

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__("Incremental load", parent)
        self.setObjectName("incrementalGroup")
        self.document = document
        self.pipeline_name: str | None = None
        self.columns: list[SourceColumn] = []
        self.watermark: Any = None
        self._watermark_key: Any = None
        self._remembered: dict[str, Incremental] = {}  # settings of a switched-off pipeline, this session
        self._waiting_for_column: str | None = None  # switched on, no column chosen yet
        self._slot = WorkerSlot(self)

        layout = QVBoxLayout(self)
        layout.setSpacing(SPACING)
        self.enabled_check = QCheckBox("Read only the rows that are new or changed since the last run", self)
        self.enabled_check.setObjectName("incrementalEnabled")
        self.enabled_check.setToolTip(
            "Each run reads only rows whose column is past the watermark (the largest value the last successful run loaded).\n"
            "Off: every run reads all rows.")
        self.enabled_check.toggled.connect(self._toggled)
        layout.addWidget(self.enabled_check)

        self.body = QWidget(self)
        body = QVBoxLayout(self.body)
        body.setContentsMargins(0, 0, 0, 0)
        self.form = ConfigForm(Incremental, {}, FormContext(), self.body)
        self.form.setObjectName("incrementalForm")
        self.form.configChanged.connect(self._form_edited)
        initial = self.form.editors["initial_value"].widget
        initial.setPlaceholderText("empty: the first run reads every row")  # type: ignore[attr-defined]
        body.addWidget(self.form)

        row = QHBoxLayout()
        caption = QLabel("Watermark:", self.body)
        caption.setObjectName("incrementalWatermarkCaption")
        caption.setToolTip("The largest value of the column that a run committed; the next run reads past it")
        row.addWidget(caption)
        self.watermark_label = QLabel("…", self.body)
        self.watermark_label.setObjectName("incrementalWatermark")
        self.watermark_label.setToolTip(caption.toolTip())
        row.addWidget(self.watermark_label, 1)
        self.set_button = QPushButton("Set…", self.body)
        self.set_button.setObjectName("incrementalSetWatermark")
        self.set_button.setToolTip("Type a watermark: the next run reads the rows past it")
        self.set_button.clicked.connect(self.prompt_set)
        row.addWidget(self.set_button)
        self.reset_button = QPushButton(icon("undo"), "Reset…", self.body)
        self.reset_button.setObjectName("incrementalResetWatermark")
        self.reset_button.setToolTip("Forget the watermark: the next run reads every row again (or from the initial value)")
        self.reset_button.clicked.connect(self.prompt_reset)
        row.addWidget(self.reset_button)
        body.addLayout(row)
        self.next_read = QLabel(self.body)
        self.next_read.setObjectName("incrementalNextRead")
        self.next_read.setWordWrap(True)
        self.next_read.setStyleSheet(f"color: {colour('muted').name()};")
        body.addWidget(self.next_read)
        self.status = status_label("incrementalStatus", self.body)
        body.addWidget(self.status)
        layout.addWidget(self.body)
        self.off_hint = QLabel("Every run reads all rows of the source.", self)
        self.off_hint.setObjectName("incrementalOffHint")
        self.off_hint.setStyleSheet(f"color: {colour('muted').name()};")
        layout.addWidget(self.off_hint)

    # -- showing
    def pipeline(self) -> Pipeline | None:
        return self.document.find_pipeline(self.pipeline_name)

    def set_pipeline(self, name: str | None) -> None:
        if name != self.pipeline_name:
            self._waiting_for_column = None
        self.pipeline_name = name
        self.reload()

    def reload(self) -> None:
        pipeline = self.pipeline()
        if pipeline is None:
            return
        incremental = pipeline.incremental
        on = incremental is not None or self._waiting_for_column == pipeline.name
        self.enabled_check.blockSignals(True)
        self.enabled_check.setChecked(on)
        self.enabled_check.blockSignals(False)
        self.body.setVisible(on)
        self.off_hint.setVisible(not on)
        if incremental is not None:
            self._waiting_for_column = None
            self.form.set_config(incremental.model_dump(mode="json", exclude_defaults=True))
        kind = incremental.kind if incremental is not None else "timestamp"
        lookback = self.form.findChild(QLabel, "label_lookback")
        if lookback is not None:
            lookback.setText("Look back (ids)" if kind == "id" else "Look back (seconds)")
        self._show_next_read()
        if on:
            self.load_watermark()

    def set_columns(self, columns: list[SourceColumn]) -> None:
        self.columns = list(columns)
        self.form.set_columns([c.name for c in columns])

    def _show_next_read(self) -> None:
        pipeline = self.pipeline()
        incremental = pipeline.incremental if pipeline else None
        if incremental is None:
            self.next_read.setText("Choose the column that grows with every new or changed row (e.g. updated_at or an id)."
                                   if self.enabled_check.isChecked() else "")
            return
        try:
            window = window_for(incremental, self.watermark.value if self.watermark is not None else None)
        except InvalidInputError as exc:
            self.next_read.setText(str(exc))
            return
        self.next_read.setText(f"The next run reads {window.describe()}.")

    # -- editing the settings
    def _edit(self, incremental: Incremental | None, text: str, merge_key: str | None = None) -> None:
        pipeline = self.pipeline()
        if pipeline is None:
            return
        self.document.replace_pipeline(pipeline.name, pipeline.model_copy(update={"incremental": incremental}), text, merge_key)

    def _toggled(self, on: bool) -> None:
        pipeline = self.pipeline()
        if pipeline is None:
            return
        if not on:
            self._waiting_for_column = None
            if pipeline.incremental is not None:
                self._remembered[pipeline.name] = pipeline.incremental
                self._edit(None, f"Read every row of '{pipeline.name}' on each run")
            self.reload()
            return
        chosen = self._remembered.get(pipeline.name) or guess_incremental(self.columns)
        if chosen is None:
            self._waiting_for_column = pipeline.name  # on as soon as a column is chosen
            self.form.set_config({})
            self.reload()
            return
        self._edit(chosen, f"Read '{pipeline.name}' incrementally by {chosen.column}")

    def _form_edited(self, config: dict[str, Any], field: str) -> None:
        try:
            incremental = Incremental.model_validate(config)
        except ValidationError:
            return  # the form already shows why
        if incremental.initial_value:
            try:
                parse_watermark(incremental.kind, incremental.initial_value)
            except InvalidInputError as exc:
                label = self.form.error_labels["initial_value"]
                label.setText(str(exc))
                label.show()
                return
        pipeline = self.pipeline()
        if pipeline is None:
            return
        self._edit(incremental, f"Change incremental {field.replace('_', ' ')}", merge_key=f"{pipeline.name}.incremental.{field}")

    # -- the watermark (state database, read and written in workers)
    def load_watermark(self, force: bool = False) -> None:
        pipeline = self.pipeline()
        if pipeline is None:
            return
        if self.document.path is None:
            self.watermark = None
            self._watermark_key = None
            self.watermark_label.setText("kept beside the project file: save the project first")
            self.set_button.setEnabled(False)
            self.reset_button.setEnabled(False)
            return
        key = (pipeline.name, str(self.document.path), self.document.project.state_database)
        if key == self._watermark_key and not force:
            return
        self._watermark_key = key
        self.watermark_label.setText("reading…")
        fn = functools.partial(read_watermark, self.document.project, pipeline.name, self.document.project_dir)
        self._slot.start(fn, self._show_watermark, self._watermark_failed)

    def _show_watermark(self, mark: Any) -> None:
        self.watermark = mark
        self.watermark_label.setText(describe_watermark(mark))
        self.set_button.setEnabled(True)
        self.reset_button.setEnabled(mark is not None)
        self._show_next_read()
        self.watermarkChanged.emit(mark)

    def _watermark_failed(self, message: str) -> None:
        self._watermark_key = None
        self.watermark_label.setText("unknown")
        set_status(self.status, "error", f"Cannot read the watermark: {message}")

    def handle_run_finished(self, pipeline: str) -> None:
        """A run of ``pipeline`` ended: its commit may have moved the watermark."""
        if pipeline == self.pipeline_name and self.enabled_check.isChecked():
            self.load_watermark(force=True)

    def prompt_set(self) -> None:
        pipeline = self.pipeline()
        if pipeline is None or pipeline.incremental is None:
            return
        kind = pipeline.incremental.kind
        example = "1000" if kind == "id" else datetime.now().strftime("%Y-%m-%dT00:00:00")
        text = self.ask_watermark(pipeline.incremental.column, kind, self.watermark.value if self.watermark else example)
        if text is not None:
            self.set_watermark(text)

    def set_watermark(self, text: str) -> bool:
        """Check ``text`` at once (a clear message when it is not a value of the kind), then store it."""
        pipeline = self.pipeline()
        if pipeline is None or pipeline.incremental is None:
            return False
        kind = pipeline.incremental.kind
        try:
            parse_watermark(kind, text)
        except InvalidInputError as exc:
            set_status(self.status, "error", str(exc))
            return False
        set_status(self.status, "muted", "Setting the watermark…")
        fn = functools.partial(set_watermark, self.document.project, pipeline.name, self.document.project_dir, kind, text)
        self._slot.start(fn, lambda mark: self._changed(mark, f"Watermark set to {mark.value}"),
                         lambda message: set_status(self.status, "error", f"Cannot set the watermark: {message}"))
        return True

    def prompt_reset(self) -> None:
        pipeline = self.pipeline()
        if pipeline is None or pipeline.incremental is None:
            return
        start = f"from {pipeline.incremental.initial_value}" if pipeline.incremental.initial_value else "every row of the source"
        if self.confirm_reset(f"Forget the watermark of '{pipeline.name}'?\n\nThe next run reads {start} again. "
                              "Rows loaded before are loaded again unless the load mode is keyed (upsert, merge, SCD2). "
                              "This cannot be undone."):
            self.reset()

    def reset(self) -> None:
        pipeline = self.pipeline()
        if pipeline is None:
            return
        set_status(self.status, "muted", "Resetting the watermark…")
        fn = functools.partial(reset_watermark, self.document.project, pipeline.name, self.document.project_dir)
        self._slot.start(fn, lambda _none: self._changed(None, "Watermark reset: the next run reads from the start"),
                         lambda message: set_status(self.status, "error", f"Cannot reset the watermark: {message}"))

    def _changed(self, mark: Any, message: str) -> None:
        set_status(self.status, "ok", message)
        self._show_watermark(mark)

    # -- prompts (tests replace these)
    def ask_watermark(self, column: str, kind: str, current: str) -> str | None:
        example = "a whole number, e.g. 1000" if kind == "id" else "a date or date and time, e.g. 2024-01-31 or 2024-01-31T08:00:00"
        text, ok = QInputDialog.getText(self, "Set the watermark", f"The next run reads rows with {column} past this value\n({example}):",
                                        text=current)
        return text.strip() if ok and text.strip() else None

    def confirm_reset(self, text: str) -> bool:
        answer = QMessageBox.question(self, "Reset the watermark", text,
                                      QMessageBox.StandardButton.Reset | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Reset
