"""The Source tab: where a pipeline reads from (a file or a table/query) and the columns found there."""

from __future__ import annotations

import functools
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from etl_studio.core import plugins
from etl_studio.core.cdc.pipelines import CDC_SOURCE_KIND
from etl_studio.core.project.models import PluginSpec
from etl_studio.core.sources.base import SourceColumn
from etl_studio.gui.editors import ConfigForm, FormContext, create_editor
from etl_studio.gui.editors.lookups import list_connection_tables, read_source_columns
from etl_studio.gui.editors.pipeline_page import PipelinePage, WorkerSlot
from etl_studio.gui.icons import icon
from etl_studio.gui.panels.cdc_slot_box import CdcSlotBox
from etl_studio.gui.panels.incremental_editor import IncrementalEditor
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.style import MARGIN, SPACING, empty_state, set_status, status_label

REFRESH_DELAY_MS = 400


def plugin_icon_name(kind: str) -> str:
    return "file" if kind.endswith("_file") else "database" if kind.startswith("sql") else "source"


class SourceColumnsModel(QAbstractTableModel):
    HEADERS = ("Column", "Type", "Sample values")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.columns: list[SourceColumn] = []

    def set_columns(self, columns: list[SourceColumn]) -> None:
        self.beginResetModel()
        self.columns = list(columns)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.columns)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        column = self.columns[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if index.column() == 0:
                return column.name
            if index.column() == 1:
                return column.type
            return ", ".join(column.samples) if role == Qt.ItemDataRole.DisplayRole else "\n".join(column.samples)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None


class SourceEditor(PipelinePage):
    """Choose the kind of source, configure it, and see its columns (read in a worker)."""

    columnsLoaded = Signal(list)  # list[SourceColumn]

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(document, parent)
        self.setObjectName("sourceEditor")
        plugins.load_builtin_plugins()
        self.form: ConfigForm | None = None
        self._form_key: tuple[str, str] | None = None
        self._columns_slot = WorkerSlot(self)
        self._tables_slot = WorkerSlot(self)
        self._columns_key: Any = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(MARGIN, MARGIN, MARGIN, MARGIN)
        layout.setSpacing(SPACING)
        top = QFormLayout()
        self.kind_combo = QComboBox(self)
        self.kind_combo.setObjectName("sourceKind")
        for key, cls in plugins.sources.items():
            self.kind_combo.addItem(icon(plugin_icon_name(key)), cls.title or key, key)
            self.kind_combo.setItemData(self.kind_combo.count() - 1, cls.description, Qt.ItemDataRole.ToolTipRole)
        self.kind_combo.setToolTip("What the pipeline reads: a file, or a table or query of a database connection")
        self.kind_combo.activated.connect(self._kind_chosen)
        top.addRow("Read from", self.kind_combo)
        layout.addLayout(top)

        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.setObjectName("sourceSplitter")
        self.form_area = QScrollArea(splitter)
        self.form_area.setObjectName("sourceFormArea")
        self.form_area.setWidgetResizable(True)
        self.form_area.setFrameShape(QScrollArea.Shape.NoFrame)
        # One holder for the scroll area's lifetime: the kind's form is swapped inside it, the
        # incremental and replication-slot groups below it stay.
        holder = QWidget()
        holder.setObjectName("sourceFormHolder")
        self.holder_layout = QVBoxLayout(holder)
        self.holder_layout.setContentsMargins(0, 0, 0, 0)
        self.form_slot = QWidget(holder)
        self.form_slot_layout = QVBoxLayout(self.form_slot)
        self.form_slot_layout.setContentsMargins(0, 0, 0, 0)
        self.holder_layout.addWidget(self.form_slot)
        self.incremental_editor = IncrementalEditor(document, holder)
        self.holder_layout.addWidget(self.incremental_editor)
        self.cdc_box = CdcSlotBox(document, holder)
        self.holder_layout.addWidget(self.cdc_box)
        self.holder_layout.addStretch(1)
        self.form_area.setWidget(holder)
        splitter.addWidget(self.form_area)

        columns_box = QWidget(splitter)
        columns_layout = QVBoxLayout(columns_box)
        columns_layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        title = QLabel("Columns in the source", columns_box)
        title.setProperty("role", "section-title")
        title.setObjectName("sourceColumnsTitle")
        header.addWidget(title)
        header.addStretch(1)
        self.refresh_button = QPushButton(icon("refresh"), "Read again", columns_box)
        self.refresh_button.setObjectName("sourceRefreshButton")
        self.refresh_button.setToolTip("Read the source again (after the file or table changed)")
        self.refresh_button.clicked.connect(lambda: self.load_columns(force=True))
        header.addWidget(self.refresh_button)
        columns_layout.addLayout(header)
        self.columns_status = status_label("sourceColumnsStatus", columns_box)
        columns_layout.addWidget(self.columns_status)
        self.columns_stack = QStackedWidget(columns_box)
        self.columns_model = SourceColumnsModel(self)
        self.columns_view = QTableView(self.columns_stack)
        self.columns_view.setObjectName("sourceColumnsView")
        self.columns_view.setModel(self.columns_model)
        self.columns_view.verticalHeader().hide()
        self.columns_view.setAlternatingRowColors(True)
        self.columns_view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.columns_view.horizontalHeader().setStretchLastSection(True)
        self.columns_empty = empty_state("Choose a file or a table above to see its columns.", "sourceColumnsEmpty", self.columns_stack)
        self.columns_stack.addWidget(self.columns_empty)
        self.columns_stack.addWidget(self.columns_view)
        columns_layout.addWidget(self.columns_stack)
        splitter.addWidget(columns_box)
        # The settings (with the incremental or slot group under them) get the larger part.
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([600, 400])
        layout.addWidget(splitter, 1)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_DELAY_MS)
        self._refresh_timer.timeout.connect(self.load_columns)

    # -- showing
    def reload(self) -> None:
        pipeline = self.pipeline()
        self.setEnabled(pipeline is not None)
        if pipeline is None:
            return
        spec = pipeline.source
        index = self.kind_combo.findData(spec.kind)
        self.kind_combo.setCurrentIndex(index)
        key = (self.pipeline_name or "", spec.kind)
        if self.form is None or self._form_key != key:
            self._build_form(spec)
        else:
            self.form.context.connections = [c.name for c in self.document.project.connections]
            self.form.set_config(spec.config)
        # A CDC source resumes from its replication slot, never from a watermark.
        cdc = spec.kind == CDC_SOURCE_KIND
        self.incremental_editor.setVisible(not cdc or pipeline.incremental is not None)
        self.incremental_editor.set_pipeline(pipeline.name)
        self.cdc_box.setVisible(cdc)
        if self.cdc_box.pipeline_name != pipeline.name:
            self.cdc_box.set_pipeline(pipeline.name)  # later edits of the slot ask the server after a pause
        self._refresh_timer.start()

    def _context(self) -> FormContext:
        return FormContext(
            connections=[c.name for c in self.document.project.connections],
            project_dir=self.document.project_dir,
            request_tables=self.list_tables,
        )

    def _build_form(self, spec: PluginSpec) -> None:
        old = self.form_slot
        self.form_slot = QWidget(self.form_area.widget())
        slot_layout = QVBoxLayout(self.form_slot)
        slot_layout.setContentsMargins(0, 0, 0, 0)
        self.holder_layout.replaceWidget(old, self.form_slot)
        old.hide()
        old.deleteLater()
        if spec.kind not in plugins.sources:
            self.form = None
            self._form_key = None
            slot_layout.addWidget(empty_state(f"Unknown source kind '{spec.kind}': choose one above.", "sourceUnknownKind"))
            return
        self.form = create_editor("source", spec.kind, spec.config, self._context())
        self.form.configChanged.connect(self._config_edited)
        self._form_key = (self.pipeline_name or "", spec.kind)
        description = plugins.sources.get(spec.kind).description
        if description:
            hint = QLabel(description, self.form_slot)
            hint.setObjectName("sourceDescription")
            hint.setWordWrap(True)
            slot_layout.addWidget(hint)
        slot_layout.addWidget(self.form)

    # -- editing
    def _kind_chosen(self, index: int) -> None:
        kind = self.kind_combo.itemData(index)
        self.set_kind(kind)

    def set_kind(self, kind: str) -> None:
        pipeline = self.pipeline()
        if pipeline is None or pipeline.source.kind == kind:
            return
        # Settings both kinds understand (a path, a connection) survive the switch.
        fields = plugins.sources.get(kind).config_model.model_fields
        kept = {k: v for k, v in pipeline.source.config.items() if k in fields and k in ("path", "connection", "table", "query")}
        source = PluginSpec(kind=kind, config=kept)
        self.edit(pipeline.model_copy(update={"source": source}), f"Read '{pipeline.name}' from a {plugins.sources.get(kind).title or kind}")

    def _config_edited(self, config: dict[str, Any], field: str) -> None:
        pipeline = self.pipeline()
        if pipeline is None:
            return
        source = pipeline.source.model_copy(update={"config": config})
        self.edit(pipeline.model_copy(update={"source": source}), f"Change source {field.replace('_', ' ')}",
                  merge_key=f"{pipeline.name}.source.{field}")

    # -- background reads
    def load_columns(self, force: bool = False) -> None:
        pipeline = self.pipeline()
        if pipeline is None:
            return
        self.cdc_box.refresh(force=force)
        key = (pipeline.name, pipeline.source, tuple(self.document.project.connections), str(self.document.project_dir))
        if key == self._columns_key and not force:
            return
        self._columns_key = key
        if not pipeline.source.config and pipeline.source.kind.endswith("_file"):
            self._show_columns([], "")
            return
        set_status(self.columns_status, "muted", "Reading the source…")
        fn = functools.partial(read_source_columns, self.document.project, pipeline.name, self.document.project_dir)
        self._columns_slot.start(fn, lambda columns: self._show_columns(columns, ""), lambda message: self._show_columns([], message))

    def _show_columns(self, columns: list[SourceColumn], error: str) -> None:
        self.columns_model.set_columns(columns)
        self.incremental_editor.set_columns(columns)
        self.columns_stack.setCurrentIndex(1 if columns else 0)
        if error:
            set_status(self.columns_status, "error", f"Cannot read the source: {error}")
        elif columns:
            set_status(self.columns_status, "", "")
        else:
            set_status(self.columns_status, "", "")
        self.columnsLoaded.emit(columns)

    def list_tables(self, connection: str) -> None:
        set_status(self.columns_status, "muted", f"Listing the tables of '{connection}'…")
        fn = functools.partial(list_connection_tables, self.document.project, connection, self.document.project_dir)

        def done(tables: list[str]) -> None:
            set_status(self.columns_status, "" if tables else "warning", "" if tables else f"'{connection}' has no tables yet")
            if self.form is not None:
                self.form.set_table_choices(tables)

        self._tables_slot.start(fn, done, lambda message: set_status(self.columns_status, "error", f"Cannot list tables: {message}"))

    def handle_run_finished(self, pipeline: str) -> None:
        """A run ended: its commit may have moved the watermark shown here."""
        self.incremental_editor.handle_run_finished(pipeline)

    def column_names(self) -> list[str]:
        return [c.name for c in self.columns_model.columns]
