"""The mapping editor: source columns left, target columns right, a line per mapped pair."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from etl_studio.core.project.models import Project, TargetColumn
from etl_studio.core.types import TYPE_NAMES
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.qt_models.column_mapping import ColumnMappingModel, SourceColumnInfo, SourceColumnsModel
from etl_studio.gui.qt_models.map_proposals import MapProposalModel
from etl_studio.gui.widgets.column_views import SourceColumnsView, TargetColumnsView
from etl_studio.gui.widgets.expression_edit import ExpressionField
from etl_studio.gui.widgets.mapping_links import MappingLinks
from etl_studio.gui.widgets import background
from etl_studio.gui.workers import Worker

TYPE_CHOICES = [t if t != "decimal" else "decimal(18,2)" for t in TYPE_NAMES]
NO_SOURCE = "(none)"
EXPRESSION_PAUSE_MS = 300


# --- work done in a worker thread (engine calls only) ---------------------------------------


def read_mapping_columns(project: Project, pipeline_name: str, project_dir: Path) -> list[SourceColumnInfo]:
    """The columns that reach the mapping: the source's columns after every enabled step."""
    from etl_studio.core import plugins
    from etl_studio.core.connections import ConnectionPool
    from etl_studio.core.context import RunContext
    from etl_studio.core.steps.row_errors import ROW_ERROR_COLUMN

    plugins.load_builtin_plugins()
    pipeline = project.pipeline(pipeline_name)
    pool = ConnectionPool(project, project_dir)
    context = RunContext(project_dir=project_dir, connections=pool, preview=True)
    try:
        source = plugins.sources.get(pipeline.source.kind).from_spec(pipeline.source.config, context)
        described = {c.name: c for c in source.columns()}  # type: ignore[attr-defined]
        names = list(described)
        for spec in pipeline.steps:
            if spec.enabled:
                names = plugins.steps.get(spec.kind).from_spec(spec.config, context).output_columns(names)  # type: ignore[attr-defined]
    finally:
        pool.dispose()
    result = []
    for name in names:
        if name == ROW_ERROR_COLUMN:
            continue
        known = described.get(name)
        result.append(SourceColumnInfo(name, known.type, tuple(known.samples)) if known else SourceColumnInfo(name))
    return result


def read_target_schema(project: Project, pipeline_name: str, project_dir: Path) -> list[TargetColumn]:
    """The columns of the pipeline's existing target table, in the mapping's type vocabulary."""
    import sqlalchemy as sa

    from etl_studio.core.connections import ConnectionPool, explain_db_error
    from etl_studio.core.errors import ConfigError
    from etl_studio.core.targets.sql_types import type_family

    pipeline = project.pipeline(pipeline_name)
    config = pipeline.target.config
    if "connection" not in config or "table" not in config:
        raise ConfigError(f"the target ({pipeline.target.kind}) is not a database table; add the columns by hand")
    schema = config.get("schema") or None
    pool = ConnectionPool(project, project_dir)
    try:
        inspector = sa.inspect(pool.engine(config["connection"]))
        if not inspector.has_table(config["table"], schema=schema):
            raise ConfigError(f"table '{config['table']}' does not exist yet in connection '{config['connection']}'; "
                              "add the columns by hand and the first run creates it")
        columns = []
        for column in inspector.get_columns(config["table"], schema=schema):
            family = type_family(column["type"]) or "string"
            if family == "decimal":
                precision = getattr(column["type"], "precision", None)
                scale = getattr(column["type"], "scale", None) or 0
                family = f"decimal({precision},{scale})" if precision else "decimal(38,10)"
            columns.append(TargetColumn(name=column["name"], type=family, nullable=bool(column.get("nullable", True)),
                                        description=str(column.get("comment") or "")))
        return columns
    except sa.exc.DBAPIError as exc:
        raise ConfigError(f"cannot read table '{config['table']}': {explain_db_error(exc)}") from None
    finally:
        pool.dispose()


def merge_schema(current: list[TargetColumn], table: list[TargetColumn]) -> tuple[list[TargetColumn], list[str]]:
    """The table's columns, keeping what already feeds a column of the same name; and the names dropped."""
    by_name = {c.name: c for c in current}
    merged = []
    for column in table:
        old = by_name.get(column.name)
        if old is not None:
            column = column.model_copy(update={"source": old.source, "expr": old.expr, "description": column.description or old.description})
        merged.append(column)
    dropped = [c.name for c in current if c.name not in {t.name for t in table}]
    return merged, dropped


# --- the dialog ------------------------------------------------------------------------------


class AutoMapDialog(QDialog):
    """Lists the engine's proposals with their score; the analyst ticks the ones to take."""

    def __init__(self, proposals: list[Any], current: dict[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("autoMapDialog")
        self.setWindowTitle("Auto-map columns")
        self.model = MapProposalModel(proposals, current, self)
        intro = QLabel(
            f"{len(proposals)} proposal(s) by column name. Tick the pairs to map and press <b>Map selected</b>; "
            "pairs scoring 90 or more are ticked already." if proposals else
            "No proposals: no source column name resembles an unmapped target column. Drag columns by hand instead."
        )
        intro.setWordWrap(True)
        self.table = QTableView(self)
        self.table.setObjectName("autoMapTable")
        self.table.setModel(self.model)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.resizeColumnsToContents()
        select_all = QPushButton("Select all", self)
        select_all.setObjectName("autoMapSelectAll")
        select_all.clicked.connect(lambda: self.model.set_all(True))
        select_none = QPushButton("Select none", self)
        select_none.setObjectName("autoMapSelectNone")
        select_none.clicked.connect(lambda: self.model.set_all(False))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.setObjectName("autoMapButtons")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Map selected")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(select_all)
        row.addWidget(select_none)
        row.addStretch(1)
        row.addWidget(self.buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table)
        layout.addLayout(row)
        self.resize(620, 360)


# --- the panel -------------------------------------------------------------------------------


class MappingPanel(QWidget):
    """Drag a source column onto a target column to map it; every edit is one undo step."""

    sourceColumnsLoaded = Signal(list)  # list[SourceColumnInfo]; also after a failed read (empty)
    targetSchemaRead = Signal(list)
    statusMessage = Signal(str)

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mappingPanel")
        self.document = document
        self.pipeline_name: str | None = None
        self._columns_key: Any = None  # what the loaded source columns were read from
        self._columns_worker: Worker | None = None
        self._schema_worker: Worker | None = None
        self._committing = False
        self._detail_column: str | None = None
        self.last_message = ""

        self.source_model = SourceColumnsModel(self)
        self.target_model = ColumnMappingModel(document, self)
        self.target_model.editRejected.connect(self._show_message)

        self._build_actions()
        self._build_ui()
        document.changed.connect(self._on_document_changed)
        self.target_model.modelReset.connect(self._after_target_reset)
        self.set_pipeline(None)

    # -- construction
    def _action(self, name: str, text: str, tip: str, slot: Any, shortcut: QKeySequence | str | None = None) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.auto_map_action = self._action("autoMapAction", "Auto-map…", "Propose source → target pairs by column name; accept or reject each", self.auto_map, "Ctrl+Shift+M")
        self.read_schema_action = self._action("readSchemaAction", "Read schema from target", "Take the target columns, types and NULL rules from the existing target table", self.read_schema)
        self.add_action = self._action("addColumnAction", "Add column", "Add a target column (Ctrl+Shift+N)", self.add_column, "Ctrl+Shift+N")
        self.remove_action = self._action("removeColumnAction", "Remove column", "Remove the selected target columns (Ctrl+Delete)", self.remove_selected, "Ctrl+Delete")
        self.unmap_action = self._action("unmapAction", "Unmap", "Clear what feeds the selected target columns (Delete)", self.unmap_selected)
        self.up_action = self._action("moveUpAction", "Move up", "Move the selected target column up (Alt+Up)", lambda: self.move_selected(-1), "Alt+Up")
        self.down_action = self._action("moveDownAction", "Move down", "Move the selected target column down (Alt+Down)", lambda: self.move_selected(1), "Alt+Down")
        self.reload_action = self._action("reloadSourceColumnsAction", "Reload source columns", "Read the source columns again (after changing the source file or table) (Ctrl+R)", lambda: self.load_source_columns(force=True), "Ctrl+R")

    def _build_ui(self) -> None:
        self.title = QLabel(self)
        self.title.setObjectName("mappingTitle")
        self.title.setStyleSheet("font-weight: 600; font-size: 13px;")
        self.message_label = QLabel(self)
        self.message_label.setObjectName("mappingMessage")
        self.message_label.setStyleSheet("color: #57606a;")
        self.summary = QLabel(self)
        self.summary.setObjectName("mappingSummary")
        self.summary.setToolTip("How many target columns are mapped; required columns left unmapped block a run")
        self.toolbar = QToolBar(self)
        self.toolbar.setObjectName("mappingToolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in (self.auto_map_action, self.read_schema_action, None, self.add_action, self.remove_action,
                       self.up_action, self.down_action, None, self.unmap_action, None, self.reload_action):
            if action is None:
                self.toolbar.addSeparator()
            else:
                self.toolbar.addAction(action)

        self.source_view = SourceColumnsView(self)
        self.source_view.setModel(self.source_model)
        self.source_view.horizontalHeader().setStretchLastSection(True)
        self.source_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.source_view.customContextMenuRequested.connect(self._source_menu)
        self.source_view.doubleClicked.connect(self._source_double_clicked)

        self.target_view = TargetColumnsView(self)
        self.target_view.setModel(self.target_model)
        header = self.target_view.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.target_view.setColumnWidth(ColumnMappingModel.NAME, 150)
        self.target_view.setColumnWidth(ColumnMappingModel.TYPE, 110)
        self.target_view.setColumnWidth(ColumnMappingModel.NULLABLE, 70)
        self.target_view.columnDropped.connect(self.drop_source_on_target)
        self.target_view.unmapPressed.connect(self.unmap_selected)
        self.target_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.target_view.customContextMenuRequested.connect(self._target_menu)
        self.target_view.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.target_view.selectionModel().currentRowChanged.connect(self._on_selection_changed)

        self.links = MappingLinks(self.source_view, self.target_view, self.mapped_pairs, self)
        self.links.unmapRequested.connect(self.unmap)
        self.links.linkClicked.connect(self.select_target)

        columns = QSplitter(Qt.Orientation.Horizontal, self)
        columns.setObjectName("mappingColumnsSplitter")
        columns.setChildrenCollapsible(False)
        columns.setHandleWidth(0)
        columns.addWidget(self._titled("Source columns", self.source_view))
        columns.addWidget(self._titled("", self.links))
        columns.addWidget(self._titled("Target columns", self.target_view))
        columns.setStretchFactor(0, 4)
        columns.setStretchFactor(1, 2)
        columns.setStretchFactor(2, 6)
        columns.setSizes([300, 120, 480])
        for view in (self.source_view, self.target_view):
            view.setMinimumHeight(60)

        self.details = self._build_details()
        # Scrollable, so that a short window squeezes the details rather than growing.
        details_scroll = QScrollArea(self)
        details_scroll.setObjectName("targetColumnDetailsScroll")
        details_scroll.setWidgetResizable(True)
        details_scroll.setFrameShape(QFrame.Shape.NoFrame)
        details_scroll.setWidget(self.details)
        details_scroll.setMinimumHeight(60)
        body = QSplitter(Qt.Orientation.Vertical, self)
        body.setObjectName("mappingBodySplitter")
        body.setChildrenCollapsible(False)
        body.addWidget(columns)
        body.addWidget(details_scroll)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 1)
        body.setSizes([420, 230])

        self.empty = QLabel("Select a pipeline in the project explorer to map its source columns onto the target table.", self)
        self.empty.setObjectName("mappingEmptyState")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: #6e7781; font-size: 13px;")

        editor = QWidget(self)
        editor_layout = QVBoxLayout(editor)
        editor_layout.setContentsMargins(0, 0, 0, 0)
        heading = QHBoxLayout()
        heading.addWidget(self.title)
        heading.addStretch(1)
        heading.addWidget(self.message_label)
        heading.addSpacing(12)
        heading.addWidget(self.summary)
        editor_layout.addLayout(heading)
        editor_layout.addWidget(self.toolbar)
        editor_layout.addWidget(body, 1)

        self.stack = QStackedWidget(self)
        self.stack.setObjectName("mappingStack")
        self.stack.addWidget(self.empty)
        self.stack.addWidget(editor)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.stack)

    def _titled(self, title: str, widget: QWidget) -> QWidget:
        box = QWidget(self)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        label = QLabel(title, box)
        label.setStyleSheet("color: #57606a; font-weight: 600;")
        label.setObjectName(f"{widget.objectName()}Title")
        label.setFixedHeight(label.sizeHint().height())
        layout.addWidget(label)
        layout.addWidget(widget, 1)
        return box

    def _build_details(self) -> QGroupBox:
        box = QGroupBox("Selected target column", self)
        box.setObjectName("targetColumnDetails")
        self.name_edit = QLineEdit(box)
        self.name_edit.setObjectName("targetColumnName")
        self.name_edit.setToolTip("The column's name in the target table")
        self.name_edit.editingFinished.connect(self._commit_name)
        self.type_combo = QComboBox(box)
        self.type_combo.setObjectName("targetColumnType")
        self.type_combo.setEditable(True)
        self.type_combo.addItems(TYPE_CHOICES)
        self.type_combo.setToolTip("string, integer, decimal(p,s), float, boolean, date or datetime; values are cast to it before loading")
        self.type_combo.activated.connect(lambda _i: self._commit_type())
        self.type_combo.lineEdit().editingFinished.connect(self._commit_type)
        self.nullable_check = QCheckBox("May be NULL", box)
        self.nullable_check.setObjectName("targetColumnNullable")
        self.nullable_check.setToolTip("Unticked: the column is required; a row without a value goes to quarantine")
        self.nullable_check.clicked.connect(self._commit_nullable)
        self.description_edit = QLineEdit(box)
        self.description_edit.setObjectName("targetColumnDescription")
        self.description_edit.setPlaceholderText("What the column means (optional)")
        self.description_edit.editingFinished.connect(self._commit_description)
        self.source_combo = QComboBox(box)
        self.source_combo.setObjectName("targetColumnSource")
        self.source_combo.setToolTip("The source column that fills this target column as it is (cast to the type)")
        self.source_combo.activated.connect(self._commit_source)
        self.expression = ExpressionField(box)
        self._expression_timer = QTimer(self)
        self._expression_timer.setObjectName("expressionApplyTimer")
        self._expression_timer.setSingleShot(True)
        self._expression_timer.setInterval(EXPRESSION_PAUSE_MS)
        self._expression_timer.timeout.connect(self._expression_paused)
        self.expression.edit.expressionChanged.connect(self._expression_typed)
        self.expression.edit.editingFinished.connect(self._expression_finished)

        top = QHBoxLayout()
        top.addWidget(self.name_edit, 2)
        top.addWidget(self.type_combo, 1)
        top.addWidget(self.nullable_check)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Name / type", top)
        form.addRow("Description", self.description_edit)
        form.addRow("Source column", self.source_combo)
        form.addRow("or expression", self.expression)
        self.details_hint = QLabel("Select a target column to edit its type, NULL rule and expression.", box)
        self.details_hint.setObjectName("targetColumnDetailsHint")
        self.details_hint.setStyleSheet("color: #6e7781;")
        self.details_form = QWidget(box)
        self.details_form.setLayout(form)
        layout = QVBoxLayout(box)
        layout.addWidget(self.details_hint)
        layout.addWidget(self.details_form)
        return box

    # -- the panel contract
    def set_pipeline(self, name: str | None) -> None:
        self.pipeline_name = name
        self.target_model.set_pipeline(name)
        pipeline = self.target_model.pipeline
        if pipeline is None:
            self.pipeline_name = None
            self.stack.setCurrentWidget(self.empty)
            self.source_model.set_columns([])
            self._columns_key = None
            return
        self.stack.setCurrentIndex(1)
        self.title.setText(f"Mapping of pipeline “{pipeline.name}”")
        self.source_model.set_columns([])
        self._columns_key = None
        self.load_source_columns()
        self._refresh_state()
        self._show_details(None)

    # -- reading columns in a worker
    def _source_key(self) -> Any:
        pipeline = self.target_model.pipeline
        if pipeline is None:
            return None
        return (pipeline.name, pipeline.source, tuple(pipeline.steps), tuple(self.document.project.connections))

    def load_source_columns(self, force: bool = False) -> None:
        key = self._source_key()
        if key is None or (key == self._columns_key and not force):
            return
        self._columns_key = key
        if self._columns_worker is not None:
            self._columns_worker.cancel()
        self.source_view.set_placeholder("Reading the source columns…")
        worker = Worker(partial(read_mapping_columns, self.document.project, self.pipeline_name, self.document.project_dir),
                        wants_report=False, wants_cancel=False)
        # Bound methods, not lambdas: Qt drops the connection when the panel is destroyed.
        worker.signals.result.connect(self._columns_read)
        worker.signals.error.connect(self._columns_failed)
        self._columns_worker = worker
        background.start(worker)

    def _from_columns_worker(self) -> bool:
        return self._columns_worker is not None and self.sender() is self._columns_worker.signals

    def _columns_read(self, columns: list[SourceColumnInfo]) -> None:
        if not self._from_columns_worker():
            return  # an older read, overtaken by an edit of the source
        self._columns_worker = None
        self.source_model.set_columns(columns)
        self.source_view.set_placeholder("The source has no columns.")
        self.source_view.resizeColumnToContents(0)
        self._refresh_state()
        self.sourceColumnsLoaded.emit(columns)

    def _columns_failed(self, message: str) -> None:
        if not self._from_columns_worker():
            return
        self._columns_worker = None
        self.source_model.set_columns([])
        self.source_view.set_placeholder(f"Cannot read the source columns:\n{message}\n\nFix the source settings, then press Ctrl+R.")
        self._refresh_state()
        self.sourceColumnsLoaded.emit([])

    # -- edits
    def mapped_pairs(self) -> list[tuple[str, str]]:
        return [(c.source, c.name) for c in self.target_model.target_columns() if c.source is not None]

    def drop_source_on_target(self, source: str, row: int) -> None:
        """What a drop does: on a target row, map it; below the rows, add a target column for it."""
        column = self.target_model.column_at(row)
        if column is None:
            info = next((c for c in self.source_model.columns() if c.name == source), None)
            type_ = info.type if info and info.type else "string"
            name = self.target_model.add_column(source, type_, source=source)
            if name:
                self.select_target(name)
                self._show_message(f"Added target column {name} from {source}")
            return
        if self.target_model.map_source(column.name, source):
            self.select_target(column.name)
            self._show_message(f"Mapped {source} → {column.name}")

    def map_column(self, source: str, target: str) -> bool:
        return self.target_model.map_source(target, source)

    def unmap(self, target: str) -> None:
        if self.target_model.unmap(target):
            self._show_message(f"Unmapped {target} (Ctrl+Z brings it back)")

    def selected_targets(self) -> list[str]:
        rows = sorted({i.row() for i in self.target_view.selectionModel().selectedRows()})
        if not rows and self.target_view.currentIndex().isValid():
            rows = [self.target_view.currentIndex().row()]
        return [c.name for r in rows if (c := self.target_model.column_at(r)) is not None]

    def unmap_selected(self) -> None:
        names = [n for n in self.selected_targets() if (c := self._column(n)) is not None and c.is_mapped]
        if len(names) == 1:
            self.unmap(names[0])
        elif names:
            pipeline = self.target_model.pipeline
            assert pipeline is not None
            mapping = [c.model_copy(update={"source": None, "expr": None}) if c.name in names else c for c in pipeline.mapping]
            self.target_model.replace_columns(mapping, f"Unmap {len(names)} columns")

    def add_column(self) -> None:
        selected = self.selected_targets()
        row = self.target_model.row_of(selected[-1]) + 1 if selected else None
        name = self.target_model.add_column("new_column", row=row)
        if name:
            self.select_target(name)
            self.name_edit.setFocus()
            self.name_edit.selectAll()

    def remove_selected(self) -> None:
        names = self.selected_targets()
        if names:
            row = self.target_model.row_of(names[0])
            self.target_model.remove_columns(names)
            following = self.target_model.column_at(min(row, self.target_model.rowCount() - 1))
            if following is not None:
                self.select_target(following.name)

    def move_selected(self, offset: int) -> None:
        names = self.selected_targets()
        if len(names) == 1 and self.target_model.move_column(names[0], offset):
            self.select_target(names[0])

    def auto_map(self, *, exec_dialog: bool = True) -> AutoMapDialog | None:
        """Ask the engine for proposals and let the analyst pick (``exec_dialog=False`` for tests)."""
        from etl_studio.core.mapping.automap import auto_map

        targets = self.target_model.target_columns()
        if not targets:
            self._show_message("There are no target columns to map onto yet: read the schema from the target table or add columns.")
            return None
        sources = self.source_model.names()
        open_targets = [c.name for c in targets if not c.is_mapped]
        used = {c.source for c in targets if c.source}
        proposals = auto_map([s for s in sources if s not in used], open_targets)
        current = {c.name: c.source or c.expr or "" for c in targets}
        dialog = AutoMapDialog(proposals, current, self)
        dialog.accepted.connect(lambda: self.apply_proposals(dialog.model.accepted()))
        if exec_dialog:
            dialog.exec()
        return dialog

    def apply_proposals(self, proposals: list[Any]) -> None:
        pairs = [(p.source, p.target) for p in proposals]
        if pairs:
            count = self.target_model.apply_pairs(pairs, f"Auto-map {len(pairs)} column{'s' if len(pairs) != 1 else ''}")
            self._show_message(f"Auto-mapped {count} column(s); Ctrl+Z undoes them together")

    def read_schema(self) -> None:
        if self.pipeline_name is None:
            return
        self._show_message("Reading the target table…")
        worker = Worker(partial(read_target_schema, self.document.project, self.pipeline_name, self.document.project_dir),
                        wants_report=False, wants_cancel=False)
        worker.signals.result.connect(self._schema_read)
        worker.signals.error.connect(self._schema_failed)
        self._schema_worker = worker
        background.start(worker)

    def _schema_failed(self, message: str) -> None:
        self._schema_worker = None
        self._show_message(f"Cannot read the target table: {message}")
        self.targetSchemaRead.emit([])

    def _schema_read(self, table: list[TargetColumn]) -> None:
        self._schema_worker = None
        merged, dropped = merge_schema(self.target_model.target_columns(), table)
        if merged != self.target_model.target_columns():
            self.target_model.replace_columns(merged, "Read schema from target table")
        text = f"Read {len(table)} columns from the target table"
        if dropped:
            text += f"; removed {', '.join(dropped)} (not in the table; Ctrl+Z brings them back)"
        self._show_message(text)
        self.targetSchemaRead.emit(table)

    # -- selection and the details editor
    def select_target(self, name: str) -> None:
        row = self.target_model.row_of(name)
        if row < 0:
            return
        index = self.target_model.index(row, 0)
        self.target_view.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.target_view.scrollTo(index)

    def _column(self, name: str | None) -> TargetColumn | None:
        pipeline = self.target_model.pipeline
        return pipeline.target_column(name) if pipeline and name else None

    def _on_selection_changed(self, *_args: Any) -> None:
        names = self.selected_targets()
        self._show_details(names[0] if len(names) == 1 else None)
        self.links.selected_target = names[0] if len(names) == 1 else None
        self.links.update()
        self._refresh_actions()

    def _show_details(self, name: str | None) -> None:
        column = self._column(name)
        if column is None or column.name != self._detail_column:
            self._flush_expression()
        self._detail_column = column.name if column else None
        self.details_form.setVisible(column is not None)
        self.details_hint.setVisible(column is None)
        if column is None:
            self.details.setTitle("Selected target column")
            return
        self.details.setTitle(f"Target column “{column.name}”")
        if not self.name_edit.hasFocus() or self.name_edit.text() != column.name:
            self.name_edit.setText(column.name)
        if self.type_combo.currentText() != column.type:
            self.type_combo.setCurrentText(column.type)
        self.nullable_check.setChecked(column.nullable)
        if self.description_edit.text() != column.description:
            self.description_edit.setText(column.description)
        names = self.source_model.names()
        if column.source and column.source not in names:
            names = names + [column.source]  # keep a stale name visible; validation reports it
        self.source_combo.blockSignals(True)
        self.source_combo.clear()
        self.source_combo.addItems([NO_SOURCE, *names])
        self.source_combo.setCurrentText(column.source or NO_SOURCE)
        self.source_combo.blockSignals(False)
        self.expression.edit.set_columns(self.source_model.names(), self._params())
        if not self._committing and self.expression.edit.text().strip() != (column.expr or ""):
            self.expression.edit.set_text(column.expr or "")

    def _params(self) -> list[str]:
        return []

    def _commit_name(self) -> None:
        name = self._detail_column
        if name is None or self.name_edit.text().strip() == name:
            return
        new = self.name_edit.text().strip()
        if self.target_model.update_column(name, f"Rename {name} to {new}", name=new):
            self.select_target(new)
        else:
            self.name_edit.setText(name)

    def _commit_type(self) -> None:
        column = self._column(self._detail_column)
        text = self.type_combo.currentText().strip().lower()
        if column is None or text == column.type:
            return
        if not self.target_model.update_column(column.name, f"Type of {column.name}: {text}", type=text):
            self.type_combo.setCurrentText(column.type)

    def _commit_nullable(self, checked: bool) -> None:
        column = self._column(self._detail_column)
        if column is not None and column.nullable != checked:
            self.target_model.update_column(column.name, f"{'Allow' if checked else 'Forbid'} NULL in {column.name}", nullable=checked)

    def _commit_description(self) -> None:
        column = self._column(self._detail_column)
        if column is not None and self.description_edit.text() != column.description:
            self.target_model.update_column(column.name, f"Describe {column.name}", merge_key=f"desc:{self.pipeline_name}:{column.name}",
                                            description=self.description_edit.text())

    def _commit_source(self, _index: int) -> None:
        column = self._column(self._detail_column)
        if column is None:
            return
        choice = self.source_combo.currentText()
        if choice == NO_SOURCE:
            if column.source is not None:
                self.unmap(column.name)
        else:
            self.target_model.map_source(column.name, choice)

    def _expression_typed(self, text: str, valid: bool) -> None:
        # Valid text is applied after a short pause in typing (the preview follows), so that a
        # valid prefix such as "quantity" of "quantity * unit_price" never lands in the mapping;
        # invalid text waits for Enter or leaving the editor.
        self._expression_timer.start()

    def _expression_paused(self) -> None:
        edit = self.expression.edit
        if edit.is_valid() and edit.text().strip():
            self._apply_expression(edit.text())

    def _expression_finished(self, text: str) -> None:
        self._expression_timer.stop()
        column = self._column(self._detail_column)
        if column is None:
            return
        if not text.strip() and column.expr is None:
            return  # leaving an empty editor must not unmap a source column
        self._apply_expression(text)

    def _flush_expression(self) -> None:
        """Apply a valid expression still waiting for its pause to the column it was typed for."""
        if self._expression_timer.isActive():
            self._expression_timer.stop()
            self._expression_paused()

    def _apply_expression(self, text: str) -> None:
        column = self._column(self._detail_column)
        if column is None or (column.expr or "") == text.strip():
            return
        self._committing = True
        try:
            self.target_model.set_expression(column.name, text, merge_key=f"expr:{self.pipeline_name}:{column.name}")
        finally:
            self._committing = False

    # -- menus
    def _target_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        menu.setObjectName("targetColumnsMenu")
        for action in (self.unmap_action, self.remove_action, None, self.add_action, self.up_action, self.down_action, None, self.auto_map_action):
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        menu.popup(self.target_view.viewport().mapToGlobal(pos))

    def _source_menu(self, pos: QPoint) -> None:
        index = self.source_view.indexAt(pos)
        if not index.isValid():
            return
        name = self.source_model.columns()[index.row()].name
        menu = QMenu(self)
        menu.setObjectName("sourceColumnsMenu")
        selected = self.selected_targets()
        if len(selected) == 1:
            menu.addAction(f"Map to {selected[0]}", lambda: self.map_column(name, selected[0]))
        menu.addAction("Add as a new target column", lambda: self.drop_source_on_target(name, -1))
        menu.popup(self.source_view.viewport().mapToGlobal(pos))

    def _source_double_clicked(self, index: QModelIndex) -> None:
        selected = self.selected_targets()
        if index.isValid() and len(selected) == 1:
            self.map_column(self.source_model.columns()[index.row()].name, selected[0])

    # -- keeping in step with the document
    def _on_document_changed(self) -> None:
        if self.pipeline_name is None:
            return
        pipeline = self.target_model.pipeline
        if pipeline is None:
            self.set_pipeline(None)  # the pipeline went away (undo of its creation, a rename)
            return
        self.load_source_columns()
        self._refresh_state()
        self._show_details(self._detail_column if self._column(self._detail_column) else (self.selected_targets() or [None])[0])

    def _after_target_reset(self) -> None:
        if self._detail_column and self.target_model.row_of(self._detail_column) >= 0:
            self.select_target(self._detail_column)

    def _refresh_state(self) -> None:
        columns = self.target_model.target_columns()
        mapped: dict[str, list[str]] = {}
        for column in columns:
            if column.source:
                mapped.setdefault(column.source, []).append(column.name)
        self.source_model.set_mapped(mapped)
        done = sum(c.is_mapped for c in columns)
        required_open = [c.name for c in columns if not c.is_mapped and not c.nullable]
        if not columns:
            self.summary.setText("No target columns: every source column is loaded as it is")
            self.summary.setStyleSheet("color: #6e7781;")
        else:
            text = f"{done} of {len(columns)} target columns mapped"
            if required_open:
                text += f" · {len(required_open)} required still open"
            self.summary.setText(text)
            self.summary.setStyleSheet("color: #b42318;" if required_open else "color: #1a7f37;" if done == len(columns) else "color: #57606a;")
        self.target_view.set_placeholder(
            "No target columns yet.\nRead them from the target table, add them with “Add column”, "
            "or drop a source column here to add it."
        )
        self._refresh_actions()
        self.links.update()

    def _refresh_actions(self) -> None:
        selected = self.selected_targets()
        has_pipeline = self.pipeline_name is not None
        self.auto_map_action.setEnabled(has_pipeline and bool(self.target_model.rowCount()))
        self.read_schema_action.setEnabled(has_pipeline)
        self.add_action.setEnabled(has_pipeline)
        self.remove_action.setEnabled(bool(selected))
        self.unmap_action.setEnabled(any((c := self._column(n)) is not None and c.is_mapped for n in selected))
        row = self.target_model.row_of(selected[0]) if len(selected) == 1 else -1
        self.up_action.setEnabled(row > 0)
        self.down_action.setEnabled(0 <= row < self.target_model.rowCount() - 1)

    def _show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.statusMessage.emit(text)
        self.last_message = text
