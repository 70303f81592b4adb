"""The Steps tab: the ordered transform steps of a pipeline — add, reorder by dragging, enable, configure."""

from __future__ import annotations

import functools
from typing import Any

from PySide6.QtCore import QAbstractListModel, QByteArray, QMimeData, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QListView,
    QMenu,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from etl_studio.core import plugins
from etl_studio.core.project.models import Pipeline, StepSpec
from etl_studio.gui.editors import ConfigForm, FormContext, create_editor
from etl_studio.gui.editors.lookups import step_input_columns
from etl_studio.gui.editors.pipeline_page import PipelinePage, WorkerSlot
from etl_studio.gui.icons import icon
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.style import MARGIN, SPACING, colour, empty_state

STEP_ROWS_MIME = "application/x-etl-studio-step-rows"


def step_title(kind: str) -> str:
    return plugins.steps.get(kind).title or kind if kind in plugins.steps else kind


def step_summary(spec: StepSpec, limit: int = 60) -> str:
    """A short reading of the config, so the list says what each step does."""
    parts = []
    for key, value in spec.config.items():
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{key.replace('_', ' ')}: {text}")
    summary = "; ".join(parts)
    return summary if len(summary) <= limit else summary[: limit - 1] + "…"


def moved(items: list[Any], source: int, destination: int) -> list[Any]:
    """``items`` with the one at ``source`` moved before position ``destination`` (Qt's convention)."""
    result = list(items)
    item = result.pop(source)
    if destination > source:
        destination -= 1
    result.insert(max(0, min(destination, len(result))), item)
    return result


class StepsModel(QAbstractListModel):
    """The steps as a list; checking a row enables it; rows move by drag and drop."""

    def __init__(self, page: "StepsEditor") -> None:
        super().__init__(page)
        self.page = page
        self.steps: list[StepSpec] = []

    def set_steps(self, steps: list[StepSpec]) -> None:
        self.beginResetModel()
        self.steps = list(steps)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.steps)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        spec = self.steps[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            summary = step_summary(spec)
            return f"{index.row() + 1}. {step_title(spec.kind)}" + (f" — {summary}" if summary else "")
        if role == Qt.ItemDataRole.CheckStateRole:
            return Qt.CheckState.Checked if spec.enabled else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ToolTipRole:
            description = plugins.steps.get(spec.kind).description if spec.kind in plugins.steps else "unknown step kind"
            return f"{description}\n{'Enabled' if spec.enabled else 'Disabled: rows pass through unchanged'} — drag to reorder"
        if role == Qt.ItemDataRole.ForegroundRole and not spec.enabled:
            return colour("muted")
        if role == Qt.ItemDataRole.DecorationRole:
            return icon("steps")
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsUserCheckable
                | Qt.ItemFlag.ItemIsDragEnabled)

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if index.isValid() and role == Qt.ItemDataRole.CheckStateRole:
            checked = Qt.CheckState(value) == Qt.CheckState.Checked
            self.page.set_enabled(index.row(), checked)
            return True
        return False

    # -- drag and drop: the page edits the project; the model is rebuilt from it
    def supportedDropActions(self) -> Qt.DropAction:  # noqa: N802
        return Qt.DropAction.MoveAction

    def supportedDragActions(self) -> Qt.DropAction:  # noqa: N802
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:  # noqa: N802
        return [STEP_ROWS_MIME]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:  # noqa: N802
        data = QMimeData()
        rows = sorted({i.row() for i in indexes if i.isValid()})
        data.setData(STEP_ROWS_MIME, QByteArray(",".join(map(str, rows)).encode()))
        return data

    def dropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,  # noqa: N802
                     parent: QModelIndex | QPersistentModelIndex) -> bool:
        if action == Qt.DropAction.IgnoreAction:
            return True
        if not data.hasFormat(STEP_ROWS_MIME):
            return False
        rows = [int(r) for r in bytes(data.data(STEP_ROWS_MIME).data()).decode().split(",") if r]
        if len(rows) != 1:
            return False
        destination = row if row >= 0 else (parent.row() if parent.isValid() else len(self.steps))
        self.page.move_step(rows[0], destination)
        return True

    def moveRows(self, source_parent: QModelIndex | QPersistentModelIndex, source_row: int, count: int,  # noqa: N802
                 destination_parent: QModelIndex | QPersistentModelIndex, destination_child: int) -> bool:
        if count != 1:
            return False
        self.page.move_step(source_row, destination_child)
        return True


class StepsEditor(PipelinePage):
    def __init__(self, document: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(document, parent)
        self.setObjectName("stepsEditor")
        plugins.load_builtin_plugins()
        self.form: ConfigForm | None = None
        self._form_key: tuple[str, int, str] | None = None
        self.source_columns: list[str] = []
        self._columns_per_step: list[list[str]] = []
        self._columns_slot = WorkerSlot(self)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(MARGIN, MARGIN, MARGIN, MARGIN)
        layout.setSpacing(SPACING)
        self.toolbar = QToolBar(self)
        self.toolbar.setObjectName("stepsToolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.palette_menu = QMenu(self)
        self.palette_menu.setObjectName("stepsPalette")
        self.palette_menu.setToolTipsVisible(True)
        for key, cls in plugins.steps.items():
            action = self.palette_menu.addAction(icon("steps"), cls.title or key)
            action.setObjectName(f"addStep_{key}")
            action.setToolTip(cls.description)
            action.triggered.connect(functools.partial(self.add_step, key))
        self.add_button = QToolButton(self)
        self.add_button.setObjectName("addStepButton")
        self.add_button.setIcon(icon("add"))
        self.add_button.setText("Add step")
        self.add_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.add_button.setToolTip("Add a transform step at the end (clean, filter, derive a column …)")
        self.add_button.setMenu(self.palette_menu)
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.toolbar.addWidget(self.add_button)
        self.remove_action = self.toolbar.addAction(icon("remove"), "Remove", self.remove_selected)
        self.remove_action.setObjectName("removeStepAction")
        self.remove_action.setToolTip("Remove the selected step")
        self.up_action = self.toolbar.addAction(icon("up"), "Up", lambda: self._move_selected(-1))
        self.up_action.setObjectName("moveStepUpAction")
        self.up_action.setToolTip("Run the selected step earlier")
        self.down_action = self.toolbar.addAction(icon("down"), "Down", lambda: self._move_selected(+1))
        self.down_action.setObjectName("moveStepDownAction")
        self.down_action.setToolTip("Run the selected step later")
        layout.addWidget(self.toolbar)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.setObjectName("stepsSplitter")
        self.list_stack = QStackedWidget(splitter)
        self.model = StepsModel(self)
        self.view = QListView(self.list_stack)
        self.view.setObjectName("stepsList")
        self.view.setModel(self.model)
        # DragDrop, not InternalMove: the model accepts only its own row mime type anyway, and
        # InternalMove refuses any drop whose source is not this view (synthetic test drops).
        self.view.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.view.setDragDropOverwriteMode(False)
        self.view.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.view.setDragEnabled(True)
        self.view.setAcceptDrops(True)
        self.view.setDropIndicatorShown(True)
        self.view.setSpacing(2)
        self.view.selectionModel().currentChanged.connect(lambda *_: self._show_selected())
        self.list_empty = empty_state(
            "No steps: rows go from the source to the mapping as they are.\nClick “Add step” to clean, filter or derive columns.",
            "stepsEmpty", self.list_stack)
        self.list_stack.addWidget(self.list_empty)
        self.list_stack.addWidget(self.view)
        splitter.addWidget(self.list_stack)

        self.detail = QScrollArea(splitter)
        self.detail.setObjectName("stepDetail")
        self.detail.setWidgetResizable(True)
        self.detail.setFrameShape(QScrollArea.Shape.NoFrame)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout.addWidget(splitter, 1)
        self._show_selected()

    # -- showing
    def reload(self) -> None:
        pipeline = self.pipeline()
        self.setEnabled(pipeline is not None)
        row = self.selected_row()
        self.model.set_steps(pipeline.steps if pipeline else [])
        self.list_stack.setCurrentIndex(1 if self.model.steps else 0)
        if self.model.steps:
            self.select_row(min(max(row, 0), len(self.model.steps) - 1))
        self._show_selected()
        self._update_columns()

    def selected_row(self) -> int:
        index = self.view.currentIndex()
        return index.row() if index.isValid() else -1

    def select_row(self, row: int) -> None:
        self.view.setCurrentIndex(self.model.index(row, 0))

    def _show_selected(self) -> None:
        row = self.selected_row()
        has = 0 <= row < len(self.model.steps)
        self.remove_action.setEnabled(has)
        self.up_action.setEnabled(has and row > 0)
        self.down_action.setEnabled(has and row < len(self.model.steps) - 1)
        if not has:
            self.form = None
            self._form_key = None
            self.detail.setWidget(empty_state("Select a step to configure it.", "stepDetailEmpty"))
            return
        spec = self.model.steps[row]
        key = (self.pipeline_name or "", row, spec.kind)
        if self.form is not None and self._form_key == key:
            self.form.set_config(spec.config)
            return
        holder = QWidget()
        holder.setObjectName("stepDetailHolder")
        holder_layout = QVBoxLayout(holder)
        holder_layout.setContentsMargins(SPACING, 0, 0, 0)
        title = QLabel(f"Step {row + 1}: {step_title(spec.kind)}", holder)
        title.setObjectName("stepTitle")
        title.setProperty("role", "section-title")
        holder_layout.addWidget(title)
        if spec.kind in plugins.steps:
            description = QLabel(plugins.steps.get(spec.kind).description, holder)
            description.setObjectName("stepDescription")
            description.setWordWrap(True)
            holder_layout.addWidget(description)
            context = FormContext(columns=self._columns_before(row), connections=[c.name for c in self.document.project.connections],
                                  project_dir=self.document.project_dir)
            self.form = create_editor("step", spec.kind, spec.config, context, holder)
            self.form.configChanged.connect(functools.partial(self._config_edited, row))
            holder_layout.addWidget(self.form)
            self._form_key = key
        else:
            self.form = None
            self._form_key = None
            holder_layout.addWidget(empty_state(f"Unknown step kind '{spec.kind}'. Remove it or install the plugin that provides it.", "stepUnknown"))
        holder_layout.addStretch(1)
        self.detail.setWidget(holder)

    def _columns_before(self, row: int) -> list[str]:
        if 0 <= row < len(self._columns_per_step):
            return self._columns_per_step[row]
        return list(self.source_columns)

    def set_source_columns(self, columns: list[str]) -> None:
        """The source's column names (from the Source tab), offered in the step forms."""
        self.source_columns = list(columns)
        self._update_columns()

    def _update_columns(self) -> None:
        pipeline = self.pipeline()
        if pipeline is None or not self.source_columns:
            self._columns_per_step = []
            return
        fn = functools.partial(step_input_columns, self.document.project, pipeline.name, self.document.project_dir, self.source_columns)
        self._columns_slot.start(fn, self._columns_known, lambda _message: None)

    def _columns_known(self, per_step: list[list[str]]) -> None:
        self._columns_per_step = per_step
        row = self.selected_row()
        if self.form is not None and 0 <= row < len(per_step):
            self.form.set_columns(per_step[row])

    # -- editing
    def _steps_edit(self, steps: list[StepSpec], text: str, merge_key: str | None = None) -> None:
        pipeline = self.pipeline()
        if pipeline is not None:
            self.edit(pipeline.model_copy(update={"steps": steps}), text, merge_key)

    def add_step(self, kind: str) -> int:
        pipeline = self.pipeline()
        if pipeline is None:
            return -1
        self._steps_edit([*pipeline.steps, StepSpec(kind=kind)], f"Add step '{step_title(kind)}'")
        row = len(pipeline.steps)
        self.select_row(row)
        self._show_selected()
        return row

    def remove_selected(self) -> None:
        pipeline = self.pipeline()
        row = self.selected_row()
        if pipeline is None or not 0 <= row < len(pipeline.steps):
            return
        steps = [s for i, s in enumerate(pipeline.steps) if i != row]
        self._steps_edit(steps, f"Remove step '{step_title(pipeline.steps[row].kind)}'")

    def move_step(self, source: int, destination: int) -> None:
        """Move step ``source`` before position ``destination`` (a drop or the Up/Down buttons)."""
        pipeline = self.pipeline()
        if pipeline is None or not 0 <= source < len(pipeline.steps):
            return
        steps = moved(pipeline.steps, source, destination)
        if steps == pipeline.steps:
            return
        new_row = steps.index(pipeline.steps[source]) if pipeline.steps.count(pipeline.steps[source]) == 1 else min(destination, len(steps) - 1)
        self._steps_edit(steps, f"Move step '{step_title(pipeline.steps[source].kind)}' to position {new_row + 1}")
        self.select_row(new_row)
        self._show_selected()

    def _move_selected(self, offset: int) -> None:
        row = self.selected_row()
        if row >= 0:
            self.move_step(row, row + offset + (1 if offset > 0 else 0))

    def set_enabled(self, row: int, enabled: bool) -> None:
        pipeline = self.pipeline()
        if pipeline is None or not 0 <= row < len(pipeline.steps):
            return
        steps = list(pipeline.steps)
        steps[row] = steps[row].model_copy(update={"enabled": enabled})
        self._steps_edit(steps, f"{'Enable' if enabled else 'Disable'} step '{step_title(steps[row].kind)}'")

    def _config_edited(self, row: int, config: dict[str, Any], field: str) -> None:
        pipeline = self.pipeline()
        if pipeline is None or not 0 <= row < len(pipeline.steps):
            return
        steps = list(pipeline.steps)
        steps[row] = steps[row].model_copy(update={"config": config})
        self._steps_edit(steps, f"Change {field.replace('_', ' ')} of step {row + 1}", merge_key=f"{pipeline.name}.steps[{row}].{field}")
