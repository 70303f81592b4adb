"""The Target tab: where a pipeline loads (connection, table, load mode) and what will run there."""

from __future__ import annotations

import functools
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from etl_studio.core import plugins
from etl_studio.core.cdc.pipelines import cdc_problems
from etl_studio.core.project.models import PluginSpec
from etl_studio.gui.editors import ConfigForm, FormContext, create_editor
from etl_studio.gui.editors.lookups import LoadPlan, describe_target, list_connection_tables
from etl_studio.gui.editors.pipeline_page import PipelinePage, WorkerSlot
from etl_studio.gui.icons import icon
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.style import MARGIN, SPACING, empty_state, set_status, status_label

DESCRIBE_DELAY_MS = 400


class TargetEditor(PipelinePage):
    planRequested = Signal(str)  # pipeline name: the window runs the plan and shows it

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(document, parent)
        self.setObjectName("targetEditor")
        plugins.load_builtin_plugins()
        self.form: ConfigForm | None = None
        self._form_key: tuple[str, str] | None = None
        self._plan_slot = WorkerSlot(self)
        self._tables_slot = WorkerSlot(self)
        self._plan_key: Any = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(MARGIN, MARGIN, MARGIN, MARGIN)
        layout.setSpacing(SPACING)
        top = QFormLayout()
        self.kind_combo = QComboBox(self)
        self.kind_combo.setObjectName("targetKind")
        for key, cls in plugins.targets.items():
            self.kind_combo.addItem(icon("target"), cls.title or key, key)
            self.kind_combo.setItemData(self.kind_combo.count() - 1, cls.description, Qt.ItemDataRole.ToolTipRole)
        self.kind_combo.setToolTip("Where the pipeline loads its rows")
        self.kind_combo.activated.connect(lambda i: self.set_kind(self.kind_combo.itemData(i)))
        top.addRow("Load into", self.kind_combo)
        layout.addLayout(top)
        self.cdc_warning = status_label("targetCdcWarning", self)
        layout.addWidget(self.cdc_warning)

        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.setObjectName("targetSplitter")
        self.form_area = QScrollArea(splitter)
        self.form_area.setObjectName("targetFormArea")
        self.form_area.setWidgetResizable(True)
        self.form_area.setFrameShape(QScrollArea.Shape.NoFrame)
        splitter.addWidget(self.form_area)

        plan_box = QWidget(splitter)
        plan_layout = QVBoxLayout(plan_box)
        plan_layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        title = QLabel("What will run", plan_box)
        title.setObjectName("targetPlanTitle")
        title.setProperty("role", "section-title")
        header.addWidget(title)
        header.addStretch(1)
        self.plan_refresh = QPushButton(icon("refresh"), "Check again", plan_box)
        self.plan_refresh.setObjectName("targetPlanRefresh")
        self.plan_refresh.setToolTip("Look at the target table again (after it changed in the database)")
        self.plan_refresh.clicked.connect(lambda: self.describe(force=True))
        header.addWidget(self.plan_refresh)
        self.plan_button = QPushButton(icon("preview"), "Plan load…", plan_box)
        self.plan_button.setObjectName("targetPlanLoad")
        self.plan_button.setToolTip("Run the pipeline up to the load and show what it would insert, update, expire and delete; "
                                    "nothing is committed (F8)")
        self.plan_button.clicked.connect(lambda: self.planRequested.emit(self.pipeline_name) if self.pipeline_name else None)
        header.addWidget(self.plan_button)
        plan_layout.addLayout(header)
        self.plan_status = status_label("targetPlanStatus", plan_box)
        plan_layout.addWidget(self.plan_status)
        self.plan_text = QPlainTextEdit(plan_box)
        self.plan_text.setObjectName("targetDdl")
        self.plan_text.setReadOnly(True)
        self.plan_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.plan_text.setPlaceholderText("The table's DDL and the kind of statement appear here.")
        plan_layout.addWidget(self.plan_text, 1)
        splitter.addWidget(plan_box)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        layout.addWidget(splitter, 1)

        self._describe_timer = QTimer(self)
        self._describe_timer.setSingleShot(True)
        self._describe_timer.setInterval(DESCRIBE_DELAY_MS)
        self._describe_timer.timeout.connect(self.describe)

    def reload(self) -> None:
        pipeline = self.pipeline()
        self.setEnabled(pipeline is not None)
        if pipeline is None:
            return
        spec = pipeline.target
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(spec.kind))
        if self.form is None or self._form_key != (pipeline.name, spec.kind):
            self._build_form(spec)
        else:
            self.form.set_config(spec.config)
        if self.form is not None and pipeline.mapping:
            self.form.set_columns([c.name for c in pipeline.mapping])
        problems = [message for part, message in cdc_problems(pipeline) if part == "target"]
        set_status(self.cdc_warning, "warning" if problems else "", "; ".join(problems))
        self._describe_timer.start()

    def _build_form(self, spec: PluginSpec) -> None:
        if spec.kind not in plugins.targets:
            self.form = None
            self._form_key = None
            self.form_area.setWidget(empty_state(f"Unknown target kind '{spec.kind}': choose one above.", "targetUnknownKind"))
            return
        connections = [c.name for c in self.document.project.connections]
        context = FormContext(columns=[c.name for c in self.pipeline().mapping] if self.pipeline() else [],  # type: ignore[union-attr]
                              connections=connections, project_dir=self.document.project_dir, request_tables=self.list_tables)
        self.form = create_editor("target", spec.kind, spec.config, context)
        self.form.configChanged.connect(self._config_edited)
        self._form_key = (self.pipeline_name or "", spec.kind)
        holder = QWidget()
        holder_layout = QVBoxLayout(holder)
        holder_layout.setContentsMargins(0, 0, 0, 0)
        if not connections and "connection" in plugins.targets.get(spec.kind).config_model.model_fields:
            hint = QLabel("This project has no connection yet: add one in the Project panel (+ → New connection…).", holder)
            hint.setObjectName("targetNoConnectionHint")
            hint.setWordWrap(True)
            holder_layout.addWidget(hint)
        holder_layout.addWidget(self.form)
        holder_layout.addStretch(1)
        self.form_area.setWidget(holder)

    def set_kind(self, kind: str) -> None:
        pipeline = self.pipeline()
        if pipeline is None or pipeline.target.kind == kind:
            return
        fields = plugins.targets.get(kind).config_model.model_fields
        kept = {k: v for k, v in pipeline.target.config.items() if k in fields}
        self.edit(pipeline.model_copy(update={"target": PluginSpec(kind=kind, config=kept)}), "Change the target kind")

    def _config_edited(self, config: dict[str, Any], field: str) -> None:
        pipeline = self.pipeline()
        if pipeline is None:
            return
        target = pipeline.target.model_copy(update={"config": config})
        self.edit(pipeline.model_copy(update={"target": target}), f"Change target {field.replace('_', ' ')}",
                  merge_key=f"{pipeline.name}.target.{field}")

    def describe(self, force: bool = False) -> None:
        pipeline = self.pipeline()
        if pipeline is None:
            return
        key = (pipeline.target, tuple(pipeline.mapping), tuple(self.document.project.connections))
        if key == self._plan_key and not force:
            return
        self._plan_key = key
        if self.form is not None and not self.form.is_valid:
            self._show_plan(None, "Fill in the fields marked above to see what will run.")
            return
        set_status(self.plan_status, "muted", "Looking at the target…")
        fn = functools.partial(describe_target, self.document.project, pipeline.name, self.document.project_dir)
        self._plan_slot.start(fn, lambda plan: self._show_plan(plan, ""), lambda message: self._show_plan(None, message))

    def _show_plan(self, plan: LoadPlan | None, error: str) -> None:
        if plan is None:
            self.plan_text.setPlainText("")
            set_status(self.plan_status, "error" if error and not error.startswith("Fill") else "warning", error)
            return
        text = plan.description or "(this target does not describe its load)"
        pipeline = self.pipeline()
        if pipeline is not None and not pipeline.mapping:
            text = ("-- No mapping yet: the columns arrive as the source and steps make them.\n"
                    "-- Map them in the Mapping tab to see the exact table.\n\n") + text
        self.plan_text.setPlainText(text)
        if plan.differences:
            set_status(self.plan_status, "warning", "The existing table differs from the mapping:\n• " + "\n• ".join(plan.differences))
        else:
            set_status(self.plan_status, "", "")

    def list_tables(self, connection: str) -> None:
        fn = functools.partial(list_connection_tables, self.document.project, connection, self.document.project_dir)

        def done(tables: list[str]) -> None:
            if self.form is not None:
                self.form.set_table_choices(tables)
            if not tables:
                set_status(self.plan_status, "muted", f"'{connection}' has no tables yet; the load creates the table")

        self._tables_slot.start(fn, done, lambda message: set_status(self.plan_status, "error", f"Cannot list tables: {message}"))
