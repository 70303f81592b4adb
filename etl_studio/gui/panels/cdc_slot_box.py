"""The source editor's "Replication slot" group for a PostgreSQL CDC source: its status, Create slot and Drop slot."""

from __future__ import annotations

import functools
from typing import Any

from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QMessageBox, QPushButton, QVBoxLayout, QWidget

from etl_studio.core.project.models import Pipeline
from etl_studio.gui.editors.lookups import SlotState, cdc_create_slot, cdc_drop_slot, cdc_slot_state
from etl_studio.gui.editors.pipeline_page import WorkerSlot
from etl_studio.gui.icons import icon
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.style import SPACING, set_status, status_label


class CdcSlotBox(QGroupBox):
    """Slot management runs in workers: each button says what happened in one line under it."""

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__("Replication slot", parent)
        self.setObjectName("cdcSlotGroup")
        self.document = document
        self.pipeline_name: str | None = None
        self.state: SlotState | None = None
        self._key: Any = None
        self._slot = WorkerSlot(self)
        self.busy = False

        layout = QVBoxLayout(self)
        layout.setSpacing(SPACING)
        intro = QLabel("The server keeps every change of the table in this slot until a run has loaded it. "
                       "Create the slot before the first run: changes made before it exists are not captured.", self)
        intro.setObjectName("cdcSlotIntro")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.status_text = QLabel("…", self)
        self.status_text.setObjectName("cdcSlotStatus")
        self.status_text.setWordWrap(True)
        layout.addWidget(self.status_text)
        row = QHBoxLayout()
        self.create_button = QPushButton(icon("add"), "Create slot", self)
        self.create_button.setObjectName("cdcCreateSlot")
        self.create_button.setToolTip("Create the logical replication slot named above (needs wal_level = logical on the server)")
        self.create_button.clicked.connect(self.create_slot)
        self.drop_button = QPushButton(icon("remove"), "Drop slot…", self)
        self.drop_button.setObjectName("cdcDropSlot")
        self.drop_button.setToolTip("Drop the slot: the server frees the WAL it kept; changes not loaded yet are lost")
        self.drop_button.clicked.connect(self.prompt_drop)
        self.check_button = QPushButton(icon("refresh"), "Check again", self)
        self.check_button.setObjectName("cdcCheckSlot")
        self.check_button.setToolTip("Ask the server for the slot's position again")
        self.check_button.clicked.connect(lambda: self.refresh(force=True))
        row.addWidget(self.create_button)
        row.addWidget(self.drop_button)
        row.addStretch(1)
        row.addWidget(self.check_button)
        layout.addLayout(row)
        self.message = status_label("cdcSlotMessage", self)
        layout.addWidget(self.message)
        self._update_buttons()

    def pipeline(self) -> Pipeline | None:
        return self.document.find_pipeline(self.pipeline_name)

    def set_pipeline(self, name: str | None) -> None:
        if name != self.pipeline_name:
            set_status(self.message, "", "")
        self.pipeline_name = name
        self.refresh()

    def refresh(self, force: bool = False) -> None:
        pipeline = self.pipeline()
        if pipeline is None or pipeline.source.kind != "pg_cdc":
            return
        config = pipeline.source.config
        if not config.get("connection") or not config.get("slot"):
            self._key = None
            self.state = None
            self.status_text.setText("Choose the connection and name the slot above (e.g. etl_orders).")
            self._update_buttons()
            return
        key = (pipeline.name, config.get("connection"), config.get("slot"), tuple(self.document.project.connections))
        if key == self._key and not force:
            return
        self._key = key
        self.status_text.setText(f"Asking the server about slot {config['slot']}…")
        self._start(cdc_slot_state, lambda state: self._show(state, ""))

    def _start(self, call: Any, on_result: Any) -> None:
        pipeline = self.pipeline()
        assert pipeline is not None
        self.busy = True
        self._update_buttons()
        fn = functools.partial(call, self.document.project, pipeline.name, self.document.project_dir)
        self._slot.start(fn, on_result, self._failed)

    def _show(self, state: SlotState, message: str) -> None:
        self.busy = False
        self.state = state
        if state.status is None:
            self.status_text.setText(f"Slot {state.slot} does not exist yet: click Create slot before the first run.")
            if state.problem:
                set_status(self.message, "error", state.problem)
        else:
            self.status_text.setText(state.status.describe()[0].upper() + state.status.describe()[1:] + ".")  # type: ignore[attr-defined]
        if message:
            set_status(self.message, "ok", message)
        elif not state.problem:
            set_status(self.message, "", "")
        self._update_buttons()

    def _failed(self, message: str) -> None:
        self.busy = False
        self._key = None
        self.status_text.setText("The slot's state is not known.")
        set_status(self.message, "error", message)
        self._update_buttons()

    def _update_buttons(self) -> None:
        known = self.state is not None and not self.busy
        exists = known and self.state.status is not None  # type: ignore[union-attr]
        self.create_button.setEnabled(known and not exists and not (self.state.problem if self.state else None))
        self.drop_button.setEnabled(exists)
        self.check_button.setEnabled(not self.busy and self.pipeline() is not None)

    # -- commands
    def create_slot(self) -> None:
        if self.pipeline() is None:
            return
        set_status(self.message, "muted", "Creating the slot…")
        self._start(cdc_create_slot, lambda state: self._show(
            state, f"Created slot {state.slot}: changes committed from now on are captured"))

    def prompt_drop(self) -> None:
        if self.state is None or self.state.status is None:
            return
        if self.confirm_drop(f"Drop replication slot {self.state.slot}?\n\nChanges not loaded yet are lost, and changes made "
                             "until a new slot exists are not captured: the target may then need a full reload."):
            self.drop_slot()

    def drop_slot(self) -> None:
        if self.pipeline() is None:
            return
        set_status(self.message, "muted", "Dropping the slot…")
        self._start(cdc_drop_slot, lambda state: self._show(state, f"Dropped slot {state.slot}: the server no longer keeps WAL for it"))

    # -- prompts (tests replace these)
    def confirm_drop(self, text: str) -> bool:
        answer = QMessageBox.question(self, "Drop the replication slot", text,
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes
