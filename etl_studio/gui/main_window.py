"""The main window: project explorer, pipeline editor, docks, menus, toolbar, run progress and settings."""

from __future__ import annotations

import importlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import QByteArray, QSettings, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QDragEnterEvent, QDropEvent, QKeySequence, QUndoGroup
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QToolBar,
    QWidget,
)

from etl_studio.core.engine.events import RunFinished, RunProgress, RunStarted
from etl_studio.core.errors import ProjectFileError
from etl_studio.core.history.records import RunRecord, RunStatus
from etl_studio.core.project import Project, load_project
from etl_studio.gui.dialogs.connection_dialog import ConnectionDialog
from etl_studio.gui.dialogs.plan_dialog import PlanDialog
from etl_studio.gui.icons import icon
from etl_studio.gui.panels.explorer import ProjectExplorer
from etl_studio.gui.panels.pipeline_editor import PipelineEditor
from etl_studio.gui.panels.problems import ProblemsPanel
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.run_controller import RunController
from etl_studio.gui.style import empty_state

log = logging.getLogger("etl_studio.gui")

PROJECT_SUFFIX = ".etlproj"
PROJECT_FILTER = "ETL Studio projects (*.etlproj);;All files (*)"
MAX_RECENT = 10
APP_NAME = "ETL Studio"

# The other engineer's docks: (module, class, dock title, object name, icon).
DATA_PANELS = (
    ("preview", "PreviewPanel", "Preview", "previewDock", "preview"),
    ("problems", None, "Problems", "problemsDock", "problems"),
    ("log", "LogPanel", "Log", "logDock", "log"),
    ("history", "HistoryPanel", "Run history", "historyDock", "history"),
)


def open_project_for_editing(path: Path) -> Project:
    """Load a project to edit it. A plugin config that is not complete yet (a step just added,
    a file not chosen) must not lock the analyst out of their own file: those problems are
    shown in the Problems panel instead. Anything else wrong with the file is an error."""
    try:
        return load_project(path)
    except ProjectFileError as strict_error:
        if not all(".config" in p.path or p.path.endswith(".kind") for p in strict_error.problems):
            raise
        from etl_studio.core.project.migrations import migrate

        try:
            raw = migrate(json.loads(path.read_text(encoding="utf-8")))
            return Project.model_validate(raw)
        except (ValueError, KeyError, ValidationError):
            raise strict_error from None


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 10:
        return f"{seconds:.1f} s"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def describe_progress(event: RunProgress) -> str:
    text = f"{event.pipeline}: {event.rows_done:,}"
    fraction = event.fraction
    if event.rows_total:
        text += f" of {event.rows_total:,} rows"
        if fraction is not None:
            text += f" ({fraction:.0%})"
    else:
        text += " rows"
    text += f" · {format_duration(event.elapsed_seconds)} elapsed"
    if event.remaining_seconds is not None:
        text += f" · about {format_duration(event.remaining_seconds)} left"
    return text


def describe_finished(record: RunRecord) -> str:
    duration = format_duration(record.duration_seconds)
    if record.status is RunStatus.SUCCEEDED:
        text = f"{record.pipeline}: done in {duration} — {record.rows_loaded:,} rows loaded"
        if record.rows_quarantined:
            text += f", {record.rows_quarantined:,} quarantined"
        return text
    if record.status is RunStatus.CANCELLED:
        return f"{record.pipeline}: stopped — the target was left as it was"
    return f"{record.pipeline}: failed — {(record.error or 'unknown error').splitlines()[0]}"


class MainWindow(QMainWindow):
    projectOpened = Signal(str)  # path ("" for a new project)
    statusChanged = Signal(str)

    def __init__(self, document: ProjectDocument | None = None, settings: QSettings | None = None, parent: QWidget | None = None,
                 *, check_connections: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.resize(1280, 820)
        self.settings = settings or QSettings()
        self.check_connections = check_connections
        self.undo_group = QUndoGroup(self)
        self.document = document or ProjectDocument(parent=self)
        self.run_controller = RunController(self.document, self)
        self.panels: dict[str, QWidget] = {}
        self.docks: dict[str, QDockWidget] = {}
        self._run_started_at: dict[str, float] = {}
        self._retired_widgets: list[QWidget] = []

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_docks()
        self._build_status_bar()
        self.run_controller.event.connect(self._on_run_event)
        self.run_controller.runRefused.connect(lambda _name, why: self.show_status(why))
        self.run_controller.activeChanged.connect(self._update_actions)
        self._build_scheduler()
        self._install_document(self.document)
        self._restore_layout()

    # ----------------------------------------------------------------- construction
    def _make_action(self, name: str, text: str, icon_name: str | None, tip: str, slot: Any,
                     shortcuts: list[QKeySequence | QKeySequence.StandardKey | str] | None = None) -> QAction:
        action = QAction(icon(icon_name) if icon_name else QIcon(), text, self)
        action.setObjectName(name)
        keys = [QKeySequence(s) for s in (shortcuts or [])]
        if keys:
            action.setShortcuts(keys)
            tip = f"{tip} ({keys[0].toString(QKeySequence.SequenceFormat.NativeText)})"
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        SK = QKeySequence.StandardKey
        self.new_action = self._make_action("actionNew", "&New project", "new", "Start a new, empty project", self.new_project, [SK.New])
        self.open_action = self._make_action("actionOpen", "&Open…", "open", "Open a project file", self.prompt_open, [SK.Open])
        self.save_action = self._make_action("actionSave", "&Save", "save", "Save the project", self.save, [SK.Save])
        self.save_as_action = self._make_action("actionSaveAs", "Save &As…", "save-as", "Save the project under a new name", self.save_as, [SK.SaveAs])
        self.quit_action = self._make_action("actionQuit", "&Quit", "quit", "Close ETL Studio", self.close, [SK.Quit])
        self.undo_action = self.undo_group.createUndoAction(self, "&Undo")
        self.undo_action.setObjectName("actionUndo")
        self.undo_action.setIcon(icon("undo"))
        self.undo_action.setShortcuts(QKeySequence.keyBindings(SK.Undo))
        self.undo_action.setToolTip("Undo the last edit (Ctrl+Z)")
        self.redo_action = self.undo_group.createRedoAction(self, "&Redo")
        self.redo_action.setObjectName("actionRedo")
        self.redo_action.setIcon(icon("redo"))
        self.redo_action.setShortcuts(QKeySequence.keyBindings(SK.Redo))
        self.redo_action.setToolTip("Redo the edit just undone (Ctrl+Shift+Z)")
        self.addAction(self.undo_action)
        self.addAction(self.redo_action)
        self.validate_action = self._make_action("actionValidate", "&Validate", "validate",
                                                 "Check the whole project, connections included", self.validate, ["F7"])
        self.preview_action = self._make_action("actionPreview", "&Preview", "preview",
                                                "Show the first rows of the selected pipeline, before and after, without loading anything",
                                                self.preview, ["F6"])
        self.plan_action = self._make_action("actionPlan", "P&lan load…", "target",
                                             "Run the selected pipeline up to the load and show what it would insert, update, "
                                             "expire and delete — nothing is committed", self.plan_current, ["F8"])
        self.run_action = self._make_action("actionRun", "&Run", "run", "Run the selected pipeline and load its target", self.run_current, ["F5"])
        self.run_all_action = self._make_action("actionRunAll", "Run &all", "run-all",
                                                "Run every pipeline, upstream pipelines first", self.run_all, ["Shift+F5"])
        self.stop_action = self._make_action("actionStop", "&Stop", "stop",
                                             "Stop the running pipelines after the current chunk; their targets stay as they were",
                                             self.stop, ["Esc", "Ctrl+."])
        self.add_connection_action = self._make_action("actionAddConnection", "New &connection…", "database",
                                                       "Add a database or a folder of files", self.add_connection)
        self.add_pipeline_action = self._make_action("actionAddPipeline", "New &pipeline…", "pipeline",
                                                     "Add a pipeline", lambda: self.explorer.prompt_add_pipeline())
        self.about_action = self._make_action("actionAbout", "&About ETL Studio", "info", "About ETL Studio", self._about)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        bar.setObjectName("menuBar")
        file_menu = bar.addMenu("&File")
        file_menu.setObjectName("menuFile")
        file_menu.addAction(self.new_action)
        file_menu.addAction(self.open_action)
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.setObjectName("menuRecent")
        self.recent_menu.setIcon(icon("recent"))
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.save_as_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.setObjectName("menuEdit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.add_pipeline_action)
        edit_menu.addAction(self.add_connection_action)
        pipeline_menu = bar.addMenu("&Pipeline")
        pipeline_menu.setObjectName("menuPipeline")
        for action in (self.validate_action, self.preview_action, self.plan_action, self.run_action, self.run_all_action, self.stop_action):
            pipeline_menu.addAction(action)
        self.pipeline_menu = pipeline_menu
        self.view_menu = bar.addMenu("&View")
        self.view_menu.setObjectName("menuView")
        help_menu = bar.addMenu("&Help")
        help_menu.setObjectName("menuHelp")
        help_menu.addAction(self.about_action)

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Main toolbar", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (self.new_action, self.open_action, self.save_action):
            toolbar.addAction(action)
            toolbar.widgetForAction(action).setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)  # type: ignore[union-attr]
        toolbar.addSeparator()
        for action in (self.undo_action, self.redo_action):
            toolbar.addAction(action)
            toolbar.widgetForAction(action).setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)  # type: ignore[union-attr]
        toolbar.addSeparator()
        for action in (self.validate_action, self.preview_action, self.plan_action, self.run_action, self.run_all_action, self.stop_action):
            toolbar.addAction(action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        self.toolbar = toolbar

    def _dock(self, key: str, title: str, object_name: str, icon_name: str, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(object_name)
        dock.setWindowIcon(icon(icon_name))
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        toggle = dock.toggleViewAction()
        toggle.setObjectName(f"actionShow_{key}")
        toggle.setIcon(icon(icon_name))
        toggle.setToolTip(f"Show or hide the {title} panel")
        self.view_menu.addAction(toggle)
        self.docks[key] = dock
        return dock

    def _build_docks(self) -> None:
        self._dock("explorer", "Project", "explorerDock", "pipeline", Qt.DockWidgetArea.LeftDockWidgetArea)
        bottom = []
        for key, _cls, title, object_name, icon_name in DATA_PANELS:
            bottom.append(self._dock(key, title, object_name, icon_name, Qt.DockWidgetArea.BottomDockWidgetArea))
        for dock in bottom[1:]:
            self.tabifyDockWidget(bottom[0], dock)
        bottom[0].raise_()
        self.resizeDocks([self.docks["explorer"]], [290], Qt.Orientation.Horizontal)
        self.resizeDocks([bottom[0]], [300], Qt.Orientation.Vertical)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        bar.setObjectName("statusBar")
        self.status_label = QLabel(self)
        self.status_label.setObjectName("statusMessage")
        bar.addWidget(self.status_label, 1)
        self.progress_label = QLabel(self)
        self.progress_label.setObjectName("runProgressLabel")
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setObjectName("runProgressBar")
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setTextVisible(False)
        bar.addPermanentWidget(self.progress_label)
        bar.addPermanentWidget(self.progress_bar)
        self.progress_label.hide()
        self.progress_bar.hide()

    def _build_scheduler(self) -> None:
        """The in-app scheduler switch (the scheduling issue's bridge); absent if it cannot load."""
        try:
            from etl_studio.gui.scheduler_bridge import SchedulerBridge
        except ImportError as exc:
            log.warning("the scheduler is not available: %s", exc)
            self.scheduler = None
            return
        self.scheduler = SchedulerBridge(self.document, self)
        self._scheduler_on = False
        self.run_controller.busy_elsewhere = self.scheduler.running_pipelines
        self.scheduler_action = QAction(icon("recent"), "Run on &schedule", self)
        self.scheduler_action.setObjectName("actionScheduler")
        self.scheduler_action.setCheckable(True)
        self.scheduler_action.setToolTip("Run the saved project's scheduled pipelines while the app is open")
        self.scheduler_action.setStatusTip(self.scheduler_action.toolTip())
        self.scheduler_action.toggled.connect(self.scheduler.set_running)
        self.scheduler.runningChanged.connect(self._scheduler_switched)
        self.scheduler.refused.connect(lambda why: self.show_status(f"The scheduler did not start: {why}"))
        self.scheduler.notified.connect(lambda title, text: self.show_status(f"{title}: {text}"))
        self.scheduler.event.connect(self._on_scheduled_event)
        # Connected once; the explorer is rebuilt with each project.
        self.scheduler.nextRunsChanged.connect(self._refresh_next_runs)
        self.scheduler.runningChanged.connect(self._refresh_next_runs)
        self.pipeline_menu.addSeparator()
        self.pipeline_menu.addAction(self.scheduler_action)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.scheduler_action)
        self.addAction(self.scheduler_action)

    def _refresh_next_runs(self, *_args: object) -> None:
        explorer = getattr(self, "explorer", None)
        if explorer is not None:
            explorer.refresh_next_runs()

    def _scheduler_switched(self, on: bool) -> None:
        self.scheduler_action.blockSignals(True)
        self.scheduler_action.setChecked(on)
        self.scheduler_action.blockSignals(False)
        if on != self._scheduler_on:  # a refusal also says "off"; its reason is the message to keep
            self._scheduler_on = on
            self.show_status("The scheduler is on: scheduled pipelines run by themselves" if on else "The scheduler is off")

    def _on_scheduled_event(self, event: object) -> None:
        for key in ("log", "history"):
            panel = self.panels.get(key)
            if panel is not None and hasattr(panel, "handle_event"):
                panel.handle_event(event)
        self.pipeline_editor.handle_run_event(event)
        if isinstance(event, RunFinished):
            self.show_status(f"scheduled run of {describe_finished(event.record)}")
        self._update_actions()

    # ----------------------------------------------------------------- documents
    def _data_panel(self, module: str, class_name: str, document: ProjectDocument) -> QWidget | None:
        try:
            cls = getattr(importlib.import_module(f"etl_studio.gui.panels.{module}"), class_name)
        except (ImportError, AttributeError) as exc:
            log.warning("panel %s.%s is not available: %s", module, class_name, exc)
            return None
        return cls(document, self)

    def _install_document(self, document: ProjectDocument) -> None:
        """Build every document-bound widget for ``document`` (on start and after New/Open)."""
        old = self.document
        self.document = document
        document.setParent(self)
        self.run_controller.set_document(document)
        if self.scheduler is not None and self.scheduler.document is not document:
            self.scheduler.set_document(document)
        self.undo_group.addStack(document.undo_stack)
        self.undo_group.setActiveStack(document.undo_stack)
        if old is not document:
            self.undo_group.removeStack(old.undo_stack)
            old.setParent(None)  # freed with the last panel that still refers to it

        self.explorer = ProjectExplorer(document, self)
        self.pipeline_editor = PipelineEditor(document, self)
        self.problems_panel = ProblemsPanel(document, self, check_connections=self.check_connections)
        old_centre = self.centralWidget()
        explorer_width = self.docks["explorer"].width() if self.isVisible() and old_centre is not None else 0
        self.setCentralWidget(self.pipeline_editor)
        if explorer_width:
            # A new central widget lets the docks take all the room it does not claim at once.
            QTimer.singleShot(0, lambda: self.resizeDocks([self.docks["explorer"]], [explorer_width], Qt.Orientation.Horizontal))
        if old_centre is not None:
            self._retire_widget(old_centre)
        self._set_dock_widget("explorer", self.explorer)
        self._set_dock_widget("problems", self.problems_panel)
        self.panels = {"explorer": self.explorer, "problems": self.problems_panel}
        for key, class_name, title, _name, _icon in DATA_PANELS:
            if class_name is None:
                continue
            panel = self._data_panel(key, class_name, document)
            if panel is None:
                panel = empty_state(f"The {title} panel is not available in this build.", f"{key}Unavailable", self)
            self.panels[key] = panel
            self._set_dock_widget(key, panel)

        self.explorer.pipelineSelected.connect(self.select_pipeline)
        self.explorer.connectionActivated.connect(self.edit_connection)
        self.explorer.newConnectionRequested.connect(self.add_connection)
        self.problems_panel.problemActivated.connect(self.go_to_problem)
        self.pipeline_editor.statusMessage.connect(self.show_status)
        self.pipeline_editor.target_editor.planRequested.connect(self.plan_pipeline)
        self.run_controller.event.connect(self.pipeline_editor.handle_run_event)
        if self.scheduler is not None:
            self.explorer.set_next_runs(self.scheduler.next_run_time, self.scheduler.is_running)
        preview = self.panels.get("preview")
        if preview is not None and hasattr(preview, "previewFinished"):
            preview.previewFinished.connect(self.pipeline_editor.rules_editor.handle_preview)
        for key in ("log", "history"):
            panel = self.panels.get(key)
            if panel is not None and hasattr(panel, "handle_event"):
                self.run_controller.event.connect(panel.handle_event)
        history = self.panels.get("history")
        if history is not None and hasattr(history, "rerunRequested"):
            history.rerunRequested.connect(self.run_pipeline)

        document.undo_stack.cleanChanged.connect(self._update_title)
        document.pathChanged.connect(lambda _p: self._update_title())
        document.changed.connect(self._update_actions)
        first = document.project.pipelines[0].name if document.project.pipelines else None
        if first:
            self.explorer.select_pipeline(first)
        self.select_pipeline(first)
        self._update_title()
        self._update_actions()

    def _set_dock_widget(self, key: str, widget: QWidget) -> None:
        dock = self.docks[key]
        old = dock.widget()
        dock.setWidget(widget)
        if old is not None and old is not widget:
            self._retire_widget(old)

    def _retire_widget(self, widget: QWidget) -> None:
        """Panels of the previous project are hidden, not deleted at once: a preview or a
        column read they started may still deliver its result to them."""
        widget.hide()
        widget.setParent(None)  # type: ignore[call-overload]
        self._retired_widgets = [*self._retired_widgets[-15:], widget]

    @property
    def current_pipeline(self) -> str | None:
        return self.pipeline_editor.pipeline_name

    def select_pipeline(self, name: str | None) -> None:
        self.pipeline_editor.set_pipeline(name)
        for key in ("preview", "log", "history"):
            panel = self.panels.get(key)
            if panel is not None and hasattr(panel, "set_pipeline"):
                panel.set_pipeline(name)
        if name is not None and self.explorer.selected() != ("pipeline", name):
            self.explorer.select_pipeline(name)
        self._update_actions()

    def _update_title(self) -> None:
        name = self.document.path.name if self.document.path else "Untitled"
        self.setWindowTitle(f"{name}[*] — {APP_NAME}")
        self.setWindowModified(self.document.is_dirty)

    def _update_actions(self) -> None:
        current = self.current_pipeline
        running = self.run_controller.running() + (self.scheduler.running_pipelines() if self.scheduler is not None else [])
        has_pipelines = bool(self.document.project.pipelines)
        self.run_action.setEnabled(current is not None and current not in running)
        self.preview_action.setEnabled(current is not None)
        self.plan_action.setEnabled(current is not None and current not in running)
        self.run_all_action.setEnabled(has_pipelines)
        self.stop_action.setEnabled(bool(running))
        if hasattr(self, "explorer"):
            self.explorer.set_running(running)

    # ----------------------------------------------------------------- prompts (tests replace these)
    def ask_save_changes(self) -> str:
        """'save', 'discard' or 'cancel'."""
        box = QMessageBox(QMessageBox.Icon.Warning, APP_NAME, "The project has unsaved changes. Save them first?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("saveChangesBox")
        answer = box.exec()
        return {QMessageBox.StandardButton.Save: "save", QMessageBox.StandardButton.Discard: "discard"}.get(
            QMessageBox.StandardButton(answer), "cancel")

    def ask_stop_runs(self) -> bool:
        names = ", ".join(self.run_controller.running())
        answer = QMessageBox.question(self, APP_NAME, f"{names} still running. Stop and close? Their targets stay as they were.")
        return answer == QMessageBox.StandardButton.Yes

    def ask_open_path(self) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", str(self._dialog_dir()), PROJECT_FILTER)
        return Path(path) if path else None

    def ask_save_path(self) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self, "Save project as", str(self._dialog_dir() / "project.etlproj"), PROJECT_FILTER)
        if not path:
            return None
        result = Path(path)
        return result if result.suffix == PROJECT_SUFFIX else result.with_name(result.name + PROJECT_SUFFIX)

    def show_error(self, title: str, text: str) -> None:
        QMessageBox.warning(self, title, text)

    def _dialog_dir(self) -> Path:
        return self.document.path.parent if self.document.path else Path.home()

    # ----------------------------------------------------------------- files
    def maybe_save(self) -> bool:
        """True when it is fine to drop the current project (saved, discarded or clean)."""
        if not self.document.is_dirty:
            return True
        answer = self.ask_save_changes()
        if answer == "save":
            return self.save()
        return answer == "discard"

    def _can_switch(self) -> bool:
        if self.run_controller.is_running():
            self.show_error("Pipelines are running", "Stop the running pipelines (Esc) before opening another project.")
            return False
        return self.maybe_save()

    def new_project(self) -> bool:
        if not self._can_switch():
            return False
        self._install_document(ProjectDocument(parent=self))
        self.show_status("New project: add a connection and a pipeline with + in the Project panel.")
        self.projectOpened.emit("")
        return True

    def prompt_open(self) -> None:
        path = self.ask_open_path()
        if path:
            self.open_project(path)

    def open_project(self, path: str | Path, *, ask: bool = True) -> bool:
        path = Path(path).expanduser().resolve()
        if ask and not self._can_switch():
            return False
        try:
            project = open_project_for_editing(path)
        except ProjectFileError as exc:
            self.show_error("Cannot open the project", str(exc))
            self._forget_recent(path)
            return False
        self._install_document(ProjectDocument(project, path, self))
        self._remember_recent(path)
        self.show_status(f"Opened {path}")
        self._settle_unfinished_runs(project, path.parent)
        self.projectOpened.emit(str(path))
        return True

    def _settle_unfinished_runs(self, project: Project, project_dir: Path) -> None:
        """Runs a crashed process left 'running' are settled from the targets' control tables (DESIGN §2.5)."""
        from etl_studio.gui.workers import Worker

        def settle() -> int:
            from etl_studio.core.engine.reconcile import reconcile_runs
            from etl_studio.core.history import open_run_store

            store = open_run_store(project.state_database, project_dir)
            try:
                return len(reconcile_runs(project, project_dir, store))
            finally:
                store.dispose()

        worker = Worker(settle, wants_report=False, wants_cancel=False)
        worker.signals.result.connect(self._unfinished_runs_settled)
        self._settle_worker = worker  # kept alive until it has run
        QThreadPool.globalInstance().start(worker)

    def _unfinished_runs_settled(self, count: int) -> None:
        if count:
            self.show_status(f"{count} run(s) left unfinished by a stopped process were settled (see Run history)")
            history = self.panels.get("history")
            if history is not None and hasattr(history, "refresh"):
                history.refresh()

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._save_to(self.document.path)

    def save_as(self, path: str | Path | None = None) -> bool:
        target = Path(path) if path else self.ask_save_path()
        if target is None:
            return False
        return self._save_to(target)

    def _save_to(self, path: Path) -> bool:
        try:
            self.document.save(path)
        except OSError as exc:
            self.show_error("Cannot save the project", f"{path}: {exc.strerror or exc}. Choose another folder with Save As.")
            return False
        self._remember_recent(path)
        self.show_status(f"Saved {path}")
        return True

    def recent_files(self) -> list[str]:
        value = self.settings.value("recentFiles", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _remember_recent(self, path: Path) -> None:
        text = str(Path(path).resolve())
        recent = [text] + [p for p in self.recent_files() if p != text]
        self.settings.setValue("recentFiles", recent[:MAX_RECENT])
        self.settings.setValue("lastProject", text)

    def _forget_recent(self, path: Path) -> None:
        text = str(path)
        self.settings.setValue("recentFiles", [p for p in self.recent_files() if p != text])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_files()
        if not recent:
            empty = self.recent_menu.addAction("No recent projects")
            empty.setEnabled(False)
            return
        for i, path in enumerate(recent):
            action = self.recent_menu.addAction(f"&{i + 1} {Path(path).name}")
            action.setToolTip(path)
            action.setObjectName(f"actionRecent_{i}")
            action.triggered.connect(lambda _checked=False, p=path: self.open_project(p))
        self.recent_menu.addSeparator()
        clear = self.recent_menu.addAction("Clear the list")
        clear.triggered.connect(lambda: self.settings.setValue("recentFiles", []))

    # ----------------------------------------------------------------- connections
    def add_connection(self) -> None:
        dialog = ConnectionDialog(self.document.project_dir, None, {c.name for c in self.document.project.connections}, self)
        if dialog.exec() and dialog.connection():
            connection = dialog.connection()
            project = self.document.project
            self.document.apply(project.model_copy(update={"connections": [*project.connections, connection]}),
                                f"Add connection '{connection.name}'")  # type: ignore[union-attr]

    def edit_connection(self, name: str) -> None:
        project = self.document.project
        existing = project.connection(name)
        dialog = ConnectionDialog(self.document.project_dir, existing, {c.name for c in project.connections}, self)
        if dialog.exec() and dialog.connection() and dialog.connection() != existing:
            edited = dialog.connection()
            assert edited is not None
            from etl_studio.gui.panels.explorer import with_renamed_connection

            if edited.name != name:
                project = with_renamed_connection(project, name, edited.name)
            connections = [edited if c.name == edited.name else c for c in project.connections]
            self.document.apply(project.model_copy(update={"connections": connections}), f"Edit connection '{edited.name}'")

    # ----------------------------------------------------------------- pipeline commands
    def validate(self) -> None:
        self.docks["problems"].show()
        self.docks["problems"].raise_()
        self.problems_panel.validate_now(check_connections=True)

    def preview(self) -> None:
        panel = self.panels.get("preview")
        if panel is None or not hasattr(panel, "refresh"):
            self.show_status("The preview panel is not available.")
            return
        self.docks["preview"].show()
        self.docks["preview"].raise_()
        panel.refresh()

    def plan_current(self) -> PlanDialog | None:
        name = self.current_pipeline
        if name is None:
            self.show_status("Select a pipeline to plan its load.")
            return None
        return self.plan_pipeline(name)

    def plan_pipeline(self, name: str) -> PlanDialog | None:
        """Show what ``name``'s load would do, as the pipeline is edited now (saved or not)."""
        running = self.run_controller.running() + (self.scheduler.running_pipelines() if self.scheduler is not None else [])
        if name in running:
            self.show_status(f"{name} is running: plan its load when the run has finished.")
            return None
        if self.document.path is None and self.document.pipeline(name).incremental is not None:
            # Its watermark lives beside the project file, which does not exist yet.
            self.show_status(f"{name} is incremental: save the project first, then plan its load.")
            return None
        dialog = PlanDialog(name, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.planFinished.connect(lambda plan: self.show_status(f"{name}: the load would do: {plan.summary()} (nothing committed)"))
        dialog.planFailed.connect(lambda message: self.show_status(f"{name}: no plan — {message}"))
        dialog.start(self.document.project, self.document.project_dir)
        dialog.show()
        self.plan_dialog = dialog
        self.show_status(f"{name}: planning the load…")
        return dialog

    def run_current(self) -> str | None:
        name = self.current_pipeline
        if name is None:
            self.show_status("Select a pipeline to run.")
            return None
        return self.run_pipeline(name)

    def run_pipeline(self, name: str) -> str | None:
        run_id = self.run_controller.start(name)
        if run_id:
            self._run_started_at[name] = time.monotonic()
            self.show_status(f"{name}: running…")
            log_dock = self.docks.get("log")
            if log_dock is not None and not log_dock.isHidden():
                log_dock.raise_()
        return run_id

    def run_all(self) -> list[str]:
        started = self.run_controller.run_all()
        if started:
            self.show_status(f"Running {', '.join(started)}…")
        return started

    def stop(self) -> None:
        scheduled = self.scheduler.running_pipelines() if self.scheduler is not None else []
        if self.run_controller.is_running() or scheduled:
            self.run_controller.stop()
            for name in scheduled:
                self.scheduler.cancel(name)  # type: ignore[union-attr]
            self.show_status("Stopping after the current chunk…")

    def go_to_problem(self, path: str) -> None:
        if path.startswith("connections["):
            try:
                index = int(path.split("[", 1)[1].split("]", 1)[0])
                name = self.document.project.connections[index].name
            except (ValueError, IndexError):
                return
            self.explorer.select("connection", name)
            self.edit_connection(name)
            return
        name = self.pipeline_editor.show_path(path)
        if name is not None:
            self.explorer.select_pipeline(name)

    # ----------------------------------------------------------------- run progress
    def _on_run_event(self, event: object) -> None:
        if isinstance(event, RunStarted):
            self._run_started_at.setdefault(event.pipeline, time.monotonic())
            self._show_progress(None)
        elif isinstance(event, RunProgress):
            self._show_progress(event)
        elif isinstance(event, RunFinished):
            self._run_started_at.pop(event.record.pipeline, None)
            self.show_status(describe_finished(event.record))
            active = [run.last_progress for run in self.run_controller.active_runs()]
            if not active:
                self.progress_bar.hide()
                self.progress_label.hide()
            else:
                self._show_progress(active[-1])

    def _show_progress(self, event: RunProgress | None) -> None:
        others = len(self.run_controller.running()) - 1
        suffix = f"  (+{others} more running)" if others > 0 else ""
        if event is None:
            self.progress_bar.setRange(0, 0)
            self.progress_label.setText("Starting…" + suffix)
        else:
            fraction = event.fraction
            if fraction is None:
                self.progress_bar.setRange(0, 0)
            else:
                self.progress_bar.setRange(0, 1000)
                self.progress_bar.setValue(int(fraction * 1000))
            self.progress_label.setText(describe_progress(event) + suffix)
        self.progress_bar.show()
        self.progress_label.show()

    def show_status(self, text: str) -> None:
        self.status_label.setText(text)
        self.status_label.setToolTip(text)
        self.statusChanged.emit(text)

    # ----------------------------------------------------------------- window state
    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        self._default_layout_pending = True
        if isinstance(state, QByteArray) and not state.isEmpty():
            self._default_layout_pending = not self.restoreState(state)

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if getattr(self, "_default_layout_pending", False):
            # Dock sizes asked for before the window has its size are lost (the explorer then
            # takes all the room the editor does not need): the first layout is set once shown.
            self._default_layout_pending = False
            self.resizeDocks([self.docks["explorer"]], [290], Qt.Orientation.Horizontal)
            self.resizeDocks([self.docks[DATA_PANELS[0][0]]], [300], Qt.Orientation.Vertical)

    def save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self.run_controller.is_running():
            if not self.ask_stop_runs():
                event.ignore()
                return
            self.run_controller.stop()
            self.run_controller.wait_for_all(30000)
        if not self.maybe_save():
            event.ignore()
            return
        if self.scheduler is not None:
            self.scheduler.shutdown()  # scheduled runs still going are cancelled and roll back
        self.save_layout()
        event.accept()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if self._dropped_project(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:  # noqa: N802
        if self._dropped_project(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        path = self._dropped_project(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        # Opened after the drop returns: a save prompt inside a drop handler blocks the source app.
        QTimer.singleShot(0, lambda: self.open_project(path))

    @staticmethod
    def _dropped_project(event: Any) -> Path | None:
        mime = event.mimeData()
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile() and url.toLocalFile().endswith(PROJECT_SUFFIX):
                return Path(url.toLocalFile())
        return None

    def _about(self) -> None:
        QMessageBox.about(self, f"About {APP_NAME}", f"<b>{APP_NAME}</b><p>Build, preview, run and watch ETL pipelines by clicking; "
                          "run the same project headless with <code>etl-studio run</code>.</p>")
