"""The centre of the window: one pipeline in tabs — Source, Steps, Mapping, Rules, Target."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QStackedWidget, QTabWidget, QVBoxLayout, QWidget

from etl_studio.core.engine.events import RunFinished
from etl_studio.core.errors import InvalidInputError
from etl_studio.gui.icons import icon
from etl_studio.gui.panels.rules_editor import RulesEditor
from etl_studio.gui.panels.source_editor import SourceEditor
from etl_studio.gui.panels.steps_editor import StepsEditor
from etl_studio.gui.panels.target_editor import TargetEditor
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.style import empty_state

TABS = ("source", "steps", "mapping", "rules", "target", "schedule")
_PIPELINE_PATH = re.compile(r"^pipelines\[(\d+)\](?:\.(\w+)(?:\[(\d+)\])?)?")


def _mapping_panel(document: ProjectDocument, parent: QWidget) -> QWidget:
    try:
        from etl_studio.gui.panels.mapping import MappingPanel
    except ImportError as exc:  # the mapping panel is built separately; the window must still open
        label = empty_state(f"The mapping editor could not be loaded: {exc}", "mappingUnavailable", parent)
        label.set_pipeline = lambda _name: None  # type: ignore[attr-defined]
        return label
    return MappingPanel(document, parent)


def _schedule_editor(document: ProjectDocument, parent: QWidget) -> QWidget:
    try:
        from etl_studio.gui.panels.schedule_editor import ScheduleEditor
    except ImportError as exc:
        label = empty_state(f"The schedule editor could not be loaded: {exc}", "scheduleUnavailable", parent)
        label.set_pipeline = lambda _name: None  # type: ignore[attr-defined]
        return label
    return ScheduleEditor(document, parent)


class PipelineEditor(QWidget):
    """Shows the selected pipeline; ``show_path`` opens the tab (and row) a problem points at."""

    statusMessage = Signal(str)

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pipelineEditor")
        self.document = document
        self.pipeline_name: str | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.stack = QStackedWidget(self)
        self.stack.setObjectName("pipelineEditorStack")
        self.empty = empty_state("", "pipelineEditorEmpty", self.stack)
        self.stack.addWidget(self.empty)

        self.tabs = QTabWidget(self.stack)
        self.tabs.setObjectName("pipelineTabs")
        self.tabs.setDocumentMode(True)
        self.source_editor = SourceEditor(document, self.tabs)
        self.steps_editor = StepsEditor(document, self.tabs)
        self.mapping_panel = _mapping_panel(document, self.tabs)
        self.rules_editor = RulesEditor(document, self.tabs)
        self.target_editor = TargetEditor(document, self.tabs)
        self.schedule_editor = _schedule_editor(document, self.tabs)
        self.tabs.addTab(self.source_editor, icon("source"), "Source")
        self.tabs.addTab(self.steps_editor, icon("steps"), "Steps")
        self.tabs.addTab(self.mapping_panel, icon("mapping"), "Mapping")
        self.tabs.addTab(self.rules_editor, icon("rules"), "Rules")
        self.tabs.addTab(self.target_editor, icon("target"), "Target")
        self.tabs.addTab(self.schedule_editor, icon("recent"), "Schedule")
        self.tabs.setTabToolTip(0, "Where the rows come from: a file, or a table or query of a database")
        self.tabs.setTabToolTip(1, "Transform steps applied in order: clean, filter, derive columns …")
        self.tabs.setTabToolTip(2, "Which source column or expression feeds each target column")
        self.tabs.setTabToolTip(3, "Quality rules: rows that break one are quarantined or fail the run")
        self.tabs.setTabToolTip(4, "The table the rows are loaded into, and how")
        self.tabs.setTabToolTip(5, "When the pipeline runs by itself (the scheduler switch in the toolbar)")
        self.stack.addWidget(self.tabs)
        layout.addWidget(self.stack)

        self.source_editor.columnsLoaded.connect(lambda columns: self.steps_editor.set_source_columns([c.name for c in columns]))
        document.changed.connect(self._update_titles)
        self.set_pipeline(None)

    def set_pipeline(self, name: str | None) -> None:
        if name is not None and name not in {p.name for p in self.document.project.pipelines}:
            name = None
        self.pipeline_name = name
        if name is None:
            self.empty.setText("No pipelines yet — click + in the Project panel to add one." if not self.document.project.pipelines
                               else "Select a pipeline in the Project panel to edit it.")
            self.stack.setCurrentIndex(0)
        else:
            self.stack.setCurrentIndex(1)
        for page in (self.source_editor, self.steps_editor, self.mapping_panel, self.rules_editor, self.target_editor,
                     self.schedule_editor):
            page.set_pipeline(name)  # type: ignore[attr-defined]
        self._update_titles()

    def _update_titles(self) -> None:
        name = self.pipeline_name
        try:
            pipeline = self.document.pipeline(name) if name else None
        except InvalidInputError:
            pipeline = None
        if pipeline is None:
            if self.stack.currentIndex() == 1:
                self.set_pipeline(None)
            return
        steps = sum(1 for s in pipeline.steps if s.enabled)
        rules = sum(1 for r in pipeline.rules if r.enabled)
        self.tabs.setTabText(1, f"Steps ({steps})" if steps else "Steps")
        self.tabs.setTabText(3, f"Rules ({rules})" if rules else "Rules")
        unmapped = sum(1 for c in pipeline.mapping if not c.is_mapped and not c.nullable)
        self.tabs.setTabIcon(2, icon("warning") if unmapped else icon("mapping"))
        self.rules_editor.set_columns([c.name for c in pipeline.mapping])
        scheduled = pipeline.schedule is not None and pipeline.schedule.enabled
        self.tabs.setTabText(5, "Schedule ✓" if scheduled else "Schedule")

    def handle_run_event(self, event: object) -> None:
        """Run events (manual and scheduled): a finished run may have moved the watermark shown."""
        if isinstance(event, RunFinished):
            self.source_editor.handle_run_finished(event.record.pipeline)

    def current_tab(self) -> str:
        return TABS[self.tabs.currentIndex()]

    def show_tab(self, tab: str) -> None:
        self.tabs.setCurrentIndex(TABS.index(tab))

    def show_path(self, path: str) -> str | None:
        """Open the place a problem path points at; returns the pipeline's name (None if not a pipeline path)."""
        match = _PIPELINE_PATH.match(path)
        if not match:
            return None
        index = int(match.group(1))
        pipelines = self.document.project.pipelines
        if index >= len(pipelines):
            return None
        pipeline = pipelines[index]
        if self.pipeline_name != pipeline.name:
            self.set_pipeline(pipeline.name)
        part, row = match.group(2), match.group(3)
        if part in TABS:
            self.show_tab(part)
        if row is not None:
            self._select_row(part, int(row))
        return pipeline.name

    def _select_row(self, part: str, row: int) -> None:
        pipeline = self.document.pipeline(self.pipeline_name) if self.pipeline_name else None
        if pipeline is None:
            return
        if part == "steps" and row < len(pipeline.steps):
            self.steps_editor.select_row(row)
        elif part == "rules" and row < len(pipeline.rules):
            self.rules_editor.select_row(row)
        elif part == "mapping" and row < len(pipeline.mapping):
            select: Any = getattr(self.mapping_panel, "select_target", None)
            if select:
                select(pipeline.mapping[row].name)
