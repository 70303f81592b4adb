"""The Problems panel: live validation of the whole project; activating a problem jumps to its place."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from etl_studio.core.errors import Problem
from etl_studio.core.project.models import Project
from etl_studio.gui.editors.pipeline_page import WorkerSlot
from etl_studio.gui.icons import icon
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.style import SPACING, colour, empty_state

VALIDATE_DELAY_MS = 700
_INDEXED = re.compile(r"^(\w+)\[(\d+)\]$")
_TABS = {"source": "Source", "steps": "Steps", "mapping": "Mapping", "rules": "Rules", "target": "Target"}


def validate(project: Project, project_dir: Path, check_connections: bool) -> list[Problem]:
    from etl_studio.core.engine.validation import validate_project

    return validate_project(project, project_dir, check_connections=check_connections)


def describe_place(project: Project, path: str) -> str:
    """``pipelines[0].mapping[3].expr`` -> ``orders › Mapping › column 'total' › expr`` (what an analyst reads)."""
    parts = path.split(".") if path else []
    out: list[str] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        match = _INDEXED.match(part)
        name, index = (match.group(1), int(match.group(2))) if match else (part, None)
        if name == "pipelines" and index is not None and index < len(project.pipelines):
            pipeline = project.pipelines[index]
            out.append(pipeline.name)
            rest = parts[i + 1:]
            if rest:
                sub = _INDEXED.match(rest[0])
                sub_name, sub_index = (sub.group(1), int(sub.group(2))) if sub else (rest[0], None)
                out.append(_TABS.get(sub_name, sub_name.replace("_", " ")))
                if sub_name == "mapping" and sub_index is not None and sub_index < len(pipeline.mapping):
                    out.append(f"column '{pipeline.mapping[sub_index].name}'")
                elif sub_name == "rules" and sub_index is not None and sub_index < len(pipeline.rules):
                    out.append(f"rule '{pipeline.rules[sub_index].name}'")
                elif sub_name == "steps" and sub_index is not None:
                    out.append(f"step {sub_index + 1}")
                out += [p for p in rest[1:] if p != "config"]
            return " › ".join(out)
        if name == "connections" and index is not None and index < len(project.connections):
            out.append(f"connection '{project.connections[index].name}'")
            out += parts[i + 1:]
            return " › ".join(out)
        out.append(part)
        i += 1
    return " › ".join(out) or "project"


class ProblemsModel(QAbstractTableModel):
    HEADERS = ("", "Where", "Problem")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.problems: list[Problem] = []
        self.places: list[str] = []

    def set_problems(self, problems: list[Problem], project: Project) -> None:
        self.beginResetModel()
        # Errors first, then in the order of the project.
        self.problems = sorted(problems, key=lambda p: (p.severity != "error",))
        self.places = [describe_place(project, p.path) for p in self.problems]
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.problems)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        problem = self.problems[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return ("", self.places[index.row()], problem.message)[column]
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return icon("error" if problem.severity == "error" else "warning")
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{problem.severity}: {problem.message}\nat {problem.path or 'project'}\nClick to go there"
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None


class ProblemsPanel(QWidget):
    """Validates after every edit (debounced, in a worker). Connections are tested too, unless
    ``check_connections`` is off (then only on "Validate now")."""

    problemActivated = Signal(str)  # the problem's path
    validated = Signal(list)  # list[Problem]

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None, *, check_connections: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("problemsPanel")
        self.document = document
        self.check_connections = check_connections
        self._slot = WorkerSlot(self)
        self.running = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(SPACING, SPACING, SPACING, SPACING)
        layout.setSpacing(SPACING)
        header = QHBoxLayout()
        self.summary = QLabel("Not validated yet", self)
        self.summary.setObjectName("problemsSummary")
        header.addWidget(self.summary, 1)
        self.validate_button = QPushButton(icon("validate"), "Validate now", self)
        self.validate_button.setObjectName("problemsValidateButton")
        self.validate_button.setToolTip("Check the whole project, connections included (F7)")
        self.validate_button.clicked.connect(lambda: self.validate_now(check_connections=True))
        header.addWidget(self.validate_button)
        layout.addLayout(header)

        self.stack = QStackedWidget(self)
        self.model = ProblemsModel(self)
        self.view = QTableView(self.stack)
        self.view.setObjectName("problemsTable")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().hide()
        self.view.setShowGrid(False)
        self.view.setWordWrap(False)
        header_view = self.view.horizontalHeader()
        header_view.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header_view.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header_view.resizeSection(1, 260)
        header_view.setStretchLastSection(True)
        self.view.activated.connect(self._activated)
        self.view.clicked.connect(self._activated)
        self.empty = empty_state("No problems — the project is ready to run.", "problemsEmpty", self.stack)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.view)
        layout.addWidget(self.stack, 1)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(VALIDATE_DELAY_MS)
        self._timer.timeout.connect(lambda: self.validate_now(check_connections=self.check_connections))
        document.changed.connect(self._timer.start)
        self._timer.start()

    def validate_now(self, check_connections: bool = True) -> None:
        self._timer.stop()
        self.running = True
        self.summary.setText("Checking the project…")
        project = self.document.project
        fn = functools.partial(validate, project, self.document.project_dir, check_connections)
        self._slot.start(fn, lambda problems: self._show(problems, project),
                         lambda message: self._show([Problem("", f"validation failed: {message}")], project))

    def _show(self, problems: list[Problem], project: Project) -> None:
        self.running = False
        self.model.set_problems(problems, project)
        self.stack.setCurrentIndex(1 if problems else 0)
        errors = sum(1 for p in problems if p.severity == "error")
        warnings = len(problems) - errors
        if not problems:
            self.summary.setText("✓ No problems")
            self.summary.setStyleSheet(f"color: {colour('ok').name()};")
        else:
            parts = []
            if errors:
                parts.append(f"{errors} error{'s' if errors != 1 else ''}")
            if warnings:
                parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
            self.summary.setText(", ".join(parts) + " — click one to go there")
            self.summary.setStyleSheet(f"color: {colour('error' if errors else 'warning').name()};")
        self.validated.emit(problems)

    def problems(self) -> list[Problem]:
        return list(self.model.problems)

    def _activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.problemActivated.emit(self.model.problems[index.row()].path)
