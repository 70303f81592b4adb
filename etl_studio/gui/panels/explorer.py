"""The project explorer: connections and pipelines of the open project; add, rename, duplicate, delete."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QInputDialog,
    QMenu,
    QMessageBox,
    QToolBar,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from etl_studio.core.errors import InvalidInputError
from etl_studio.core.project.models import Connection, Pipeline, PluginSpec, Project
from etl_studio.gui.icons import icon
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.style import colour

KIND_ROLE = Qt.ItemDataRole.UserRole + 1  # "connection" | "pipeline" | "group" | "hint"
NAME_ROLE = Qt.ItemDataRole.UserRole + 2

DEFAULT_SOURCE = "csv_file"
DEFAULT_TARGET = "sql_table"


# -- project edits (pure: a new Project each time)
def unique_name(wanted: str, taken: set[str]) -> str:
    if wanted not in taken:
        return wanted
    base = re.sub(r" \(\d+\)$", "", wanted)
    n = 2
    while f"{base} ({n})" in taken:
        n += 1
    return f"{base} ({n})"


def table_name_for(pipeline_name: str) -> str:
    return re.sub(r"[^0-9a-zA-Z_]+", "_", pipeline_name).strip("_").lower() or "target"


def with_new_pipeline(project: Project, name: str) -> Project:
    """A pipeline reading a CSV file into a table of the first connection: the usual start."""
    target_config: dict[str, Any] = {"table": table_name_for(name)}
    if project.connections:
        target_config["connection"] = project.connections[0].name
    pipeline = Pipeline(name=name, source=PluginSpec(kind=DEFAULT_SOURCE), target=PluginSpec(kind=DEFAULT_TARGET, config=target_config))
    return project.model_copy(update={"pipelines": [*project.pipelines, pipeline]})


def with_renamed_pipeline(project: Project, old: str, new: str) -> Project:
    pipelines = []
    for p in project.pipelines:
        if p.name == old:
            p = p.model_copy(update={"name": new})
        if old in p.depends_on:
            p = p.model_copy(update={"depends_on": [new if d == old else d for d in p.depends_on]})
        pipelines.append(p)
    return project.model_copy(update={"pipelines": pipelines})


def with_duplicated_pipeline(project: Project, name: str) -> tuple[Project, str]:
    original = project.pipeline(name)
    copy_name = unique_name(f"{name} (copy)", {p.name for p in project.pipelines})
    index = project.pipelines.index(original)
    pipelines = list(project.pipelines)
    pipelines.insert(index + 1, original.model_copy(update={"name": copy_name}, deep=True))
    return project.model_copy(update={"pipelines": pipelines}), copy_name


def with_deleted_pipeline(project: Project, name: str) -> Project:
    pipelines = [
        p.model_copy(update={"depends_on": [d for d in p.depends_on if d != name]}) if name in p.depends_on else p
        for p in project.pipelines if p.name != name
    ]
    return project.model_copy(update={"pipelines": pipelines})


def _rename_connection_in(spec: PluginSpec, old: str, new: str) -> PluginSpec:
    if spec.config.get("connection") == old:
        return spec.model_copy(update={"config": {**spec.config, "connection": new}})
    return spec


def with_renamed_connection(project: Project, old: str, new: str) -> Project:
    """Renames the connection and every pipeline reference to it."""
    connections = [c.model_copy(update={"name": new}) if c.name == old else c for c in project.connections]
    pipelines = [
        p.model_copy(update={
            "source": _rename_connection_in(p.source, old, new),
            "target": _rename_connection_in(p.target, old, new),
            "steps": [_rename_connection_in(s, old, new) for s in p.steps],
        })
        for p in project.pipelines
    ]
    return project.model_copy(update={"connections": connections, "pipelines": pipelines})


def pipelines_using(project: Project, connection: str) -> list[str]:
    return [
        p.name for p in project.pipelines
        if any(spec.config.get("connection") == connection for spec in (p.source, p.target, *p.steps))
    ]


def format_next_run(when: datetime, now: datetime | None = None) -> str:
    """'today 14:00', 'tomorrow 02:00', 'Tue 02:00' or '2024-05-01 02:00', in local time."""
    local = when.astimezone()
    today = (now or datetime.now().astimezone()).astimezone().date()
    if local.date() == today:
        return f"today {local:%H:%M}"
    if local.date() == today + timedelta(days=1):
        return f"tomorrow {local:%H:%M}"
    if today < local.date() < today + timedelta(days=7):
        return f"{local:%a %H:%M}"
    return f"{local:%Y-%m-%d %H:%M}"


def connection_icon_name(connection: Connection) -> str:
    return "folder" if connection.url.startswith("file:") else "database"


class ProjectExplorer(QWidget):
    """Left-hand tree. Selecting a pipeline opens it in the editor; double-clicking a
    connection opens the connection dialog."""

    pipelineSelected = Signal(object)  # str | None
    connectionActivated = Signal(str)
    newConnectionRequested = Signal()

    def __init__(self, document: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("projectExplorer")
        self.document = document
        self._running: set[str] = set()
        self._current: str | None = None
        self._next_run_time: Callable[[str], datetime | None] | None = None
        self._scheduler_on: Callable[[], bool] | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.toolbar = QToolBar(self)
        self.toolbar.setObjectName("explorerToolbar")
        self.toolbar.setIconSize(self.toolbar.iconSize() * 0.75)
        layout.addWidget(self.toolbar)

        self.add_pipeline_action = QAction(icon("pipeline"), "New pipeline…", self)
        self.add_pipeline_action.setObjectName("actionAddPipeline")
        self.add_pipeline_action.setToolTip("Add a pipeline that reads a file or table and loads it into a target table")
        self.add_pipeline_action.triggered.connect(self.prompt_add_pipeline)
        self.add_connection_action = QAction(icon("database"), "New connection…", self)
        self.add_connection_action.setObjectName("actionAddConnection")
        self.add_connection_action.setToolTip("Add a database (SQLite, PostgreSQL, MySQL/MariaDB) or a folder of files")
        self.add_connection_action.triggered.connect(self.newConnectionRequested)
        add_menu = QMenu(self)
        add_menu.addAction(self.add_pipeline_action)
        add_menu.addAction(self.add_connection_action)
        self.add_button = QToolButton(self)
        self.add_button.setObjectName("explorerAddButton")
        self.add_button.setIcon(icon("add"))
        self.add_button.setToolTip("Add a pipeline or a connection")
        self.add_button.setMenu(add_menu)
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.toolbar.addWidget(self.add_button)

        self.rename_action = self._action("actionRename", "rename", "Rename…", "Rename the selected pipeline or connection (F2)", self.prompt_rename)
        self.rename_action.setShortcut(Qt.Key.Key_F2)
        self.rename_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.duplicate_action = self._action("actionDuplicate", "duplicate", "Duplicate", "Make a copy of the selected pipeline", self.duplicate_selected)
        self.delete_action = self._action("actionDelete", "remove", "Delete…", "Delete the selected pipeline or connection (Del)", self.prompt_delete)
        self.delete_action.setShortcut(Qt.Key.Key_Delete)
        self.delete_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        for action in (self.rename_action, self.duplicate_action, self.delete_action):
            self.toolbar.addAction(action)
            self.addAction(action)

        self.model = QStandardItemModel(self)
        self.tree = QTreeView(self)
        self.tree.setObjectName("explorerTree")
        self.tree.setModel(self.model)
        self.tree.setRootIsDecorated(True)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.header().setStretchLastSection(False)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.doubleClicked.connect(self._activated)
        self.tree.selectionModel().currentChanged.connect(self._current_changed)
        layout.addWidget(self.tree)

        document.changed.connect(self.refresh)
        self.refresh()

    # -- the "Next run" column (the scheduler's; absent when the app has none)
    def set_next_runs(self, next_run_time: Callable[[str], datetime | None], scheduler_on: Callable[[], bool]) -> None:
        self._next_run_time = next_run_time
        self._scheduler_on = scheduler_on
        self.refresh_next_runs()

    def next_run_text(self, name: str) -> tuple[str, str, bool]:
        """(cell text, tooltip, muted) for the pipeline's next run."""
        try:
            pipeline = self.document.pipeline(name)
        except InvalidInputError:
            return "", "", True
        schedule = pipeline.schedule
        if schedule is None or not schedule.enabled:
            return "—", "Not scheduled: set a schedule in the pipeline's Schedule tab", True
        if name in self._running:
            return "running", "Running now", False
        when = self._next_run_time(name) if self._next_run_time is not None else None
        if when is not None:
            return format_next_run(when), f"Next scheduled run: {when.astimezone():%A %Y-%m-%d %H:%M:%S %Z}", False
        if self._scheduler_on is not None and self._scheduler_on():
            return "—", "Scheduled, but the scheduler has no next run for it (saved? the date passed?)", True
        try:
            from etl_studio.core.scheduling.triggers import next_fire_times

            upcoming = next_fire_times(schedule, 1)
        except Exception:  # noqa: BLE001 - the Schedule tab says what is wrong with it
            upcoming = []
        hint = "The scheduler is off: switch on Run on schedule in the toolbar"
        if upcoming:
            return (f"off · {format_next_run(upcoming[0])}",
                    f"{hint}; it would run {upcoming[0].astimezone():%A %Y-%m-%d %H:%M}", True)
        return "off", hint, True

    def refresh_next_runs(self) -> None:
        group = self._group_item("pipelines")
        if group is None:
            return
        for row in range(group.rowCount()):
            name_item, when_item = group.child(row, 0), group.child(row, 1)
            if when_item is None or name_item.data(KIND_ROLE) != "pipeline":
                continue
            text, tip, muted = self.next_run_text(name_item.data(NAME_ROLE))
            when_item.setText(text)
            when_item.setToolTip(tip)
            when_item.setForeground(colour("muted") if muted else self.palette().text())
        self.tree.resizeColumnToContents(1)

    def next_run_of(self, name: str) -> str:
        """The text shown in the Next run column for ``name``."""
        group = self._group_item("pipelines")
        for row in range(group.rowCount() if group else 0):
            if group.child(row, 0).data(NAME_ROLE) == name:  # type: ignore[union-attr]
                return group.child(row, 1).text()  # type: ignore[union-attr]
        raise KeyError(name)

    def _group_item(self, key: str) -> QStandardItem | None:
        for row in range(self.model.rowCount()):
            item = self.model.item(row)
            if item is not None and item.data(NAME_ROLE) == key:
                return item
        return None

    def _action(self, name: str, icon_name: str, text: str, tip: str, slot: Any) -> QAction:
        action = QAction(icon(icon_name), text, self)
        action.setObjectName(name)
        action.setToolTip(tip)
        action.triggered.connect(slot)
        return action

    # -- view
    def refresh(self) -> None:
        project = self.document.project
        selected = self.selected()
        self._clear_model()
        pipelines = self._group("Pipelines", "pipelines")
        for p in project.pipelines:
            item = QStandardItem(icon("running" if p.name in self._running else "pipeline"), p.name)
            item.setData("pipeline", KIND_ROLE)
            item.setData(p.name, NAME_ROLE)
            item.setToolTip(p.description or f"Pipeline '{p.name}': {p.source.kind} → {p.target.kind}"
                            + (" (running)" if p.name in self._running else ""))
            when = QStandardItem("")
            when.setData("pipeline", KIND_ROLE)
            when.setData(p.name, NAME_ROLE)
            when.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            pipelines.appendRow([item, when])
        if not project.pipelines:
            pipelines.appendRow(self._hint("No pipelines yet — click + to add one"))
        connections = self._group("Connections", "connections")
        for c in project.connections:
            item = QStandardItem(icon(connection_icon_name(c)), c.name)
            item.setData("connection", KIND_ROLE)
            item.setData(c.name, NAME_ROLE)
            item.setToolTip(f"{c.url}\nDouble-click to edit or test")
            connections.appendRow(item)
        if not project.connections:
            connections.appendRow(self._hint("No connections yet — click + to add one"))
        self.model.appendRow(pipelines)
        self.model.appendRow(connections)
        self.model.setHorizontalHeaderLabels(["Name", "Next run"])
        self.model.setHeaderData(1, Qt.Orientation.Horizontal, "When the scheduler runs the pipeline next (local time)",
                                 Qt.ItemDataRole.ToolTipRole)
        for row in range(self.model.rowCount()):
            group = self.model.item(row)
            self.tree.setFirstColumnSpanned(row, QModelIndex(), True)
            for child in range(group.rowCount()):
                if group.child(child, 1) is None:  # hints and connections: one wide cell
                    self.tree.setFirstColumnSpanned(child, group.index(), True)
        self.tree.expandAll()
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.refresh_next_runs()
        if selected and not self.select(*selected):
            self._current = None
            self.pipelineSelected.emit(None)
        self._update_actions()

    def _clear_model(self) -> None:
        # model.clear() frees the items in C++ behind the backs of their Python wrappers, which
        # stay registered at the freed address: a later object there (a QAction) would come
        # back as a stale QStandardItem. Taken rows are Python's, freed through their wrappers.
        while self.model.rowCount():
            for group in self.model.takeRow(0):
                while group is not None and group.rowCount():
                    group.takeRow(0)

    def _group(self, text: str, key: str) -> QStandardItem:
        item = QStandardItem(text)
        item.setData("group", KIND_ROLE)
        item.setData(key, NAME_ROLE)
        item.setSelectable(False)
        font = item.font()
        font.setBold(True)
        item.setFont(font)
        return item

    def _hint(self, text: str) -> QStandardItem:
        item = QStandardItem(text)
        item.setData("hint", KIND_ROLE)
        item.setSelectable(False)
        item.setForeground(colour("muted"))
        item.setToolTip(text)
        return item

    def set_running(self, names: list[str]) -> None:
        if set(names) != self._running:
            self._running = set(names)
            self.refresh()

    def selected(self) -> tuple[str, str] | None:
        index = self.tree.currentIndex().siblingAtColumn(0)
        kind = index.data(KIND_ROLE)
        if kind in ("pipeline", "connection"):
            return kind, index.data(NAME_ROLE)
        return None

    def select(self, kind: str, name: str) -> bool:
        for row in range(self.model.rowCount()):
            group = self.model.item(row)
            for child in range(group.rowCount()):
                item = group.child(child)
                if item.data(KIND_ROLE) == kind and item.data(NAME_ROLE) == name:
                    self.tree.setCurrentIndex(item.index())
                    return True
        return False

    def select_pipeline(self, name: str) -> bool:
        return self.select("pipeline", name)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        current = current.siblingAtColumn(0)
        self._update_actions()
        if current.data(KIND_ROLE) == "pipeline":
            name = current.data(NAME_ROLE)
            if name != self._current:
                self._current = name
                self.pipelineSelected.emit(name)

    def _update_actions(self) -> None:
        selected = self.selected()
        self.rename_action.setEnabled(selected is not None)
        self.delete_action.setEnabled(selected is not None)
        self.duplicate_action.setEnabled(selected is not None and selected[0] == "pipeline")

    def _activated(self, index: QModelIndex) -> None:
        index = index.siblingAtColumn(0)
        kind = index.data(KIND_ROLE)
        if kind == "connection":
            self.connectionActivated.emit(index.data(NAME_ROLE))
        elif kind == "hint" or (kind == "group" and not self.model.itemFromIndex(index).rowCount()):
            group = index.parent().data(NAME_ROLE) if kind == "hint" else index.data(NAME_ROLE)
            if group == "pipelines":
                self.prompt_add_pipeline()
            else:
                self.newConnectionRequested.emit()

    def _context_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        menu.addAction(self.add_pipeline_action)
        menu.addAction(self.add_connection_action)
        if self.selected():
            menu.addSeparator()
            menu.addAction(self.rename_action)
            menu.addAction(self.duplicate_action)
            menu.addAction(self.delete_action)
        menu.popup(self.tree.viewport().mapToGlobal(pos))

    # -- prompts (tests replace these)
    def ask_name(self, title: str, label: str, default: str) -> str | None:
        text, ok = QInputDialog.getText(self, title, label, text=default)
        return text.strip() if ok and text.strip() else None

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def tell(self, title: str, text: str) -> None:
        QMessageBox.information(self, title, text)

    # -- commands
    def prompt_add_pipeline(self) -> None:
        taken = {p.name for p in self.document.project.pipelines}
        name = self.ask_name("New pipeline", "Name of the pipeline:", unique_name("New pipeline", taken))
        if name:
            self.add_pipeline(name)

    def add_pipeline(self, name: str) -> str:
        name = unique_name(name, {p.name for p in self.document.project.pipelines})
        self.document.apply(with_new_pipeline(self.document.project, name), f"Add pipeline '{name}'")
        self.select_pipeline(name)
        return name

    def prompt_rename(self) -> None:
        selected = self.selected()
        if not selected:
            return
        kind, old = selected
        new = self.ask_name(f"Rename {kind}", f"New name of the {kind} '{old}':", old)
        if new and new != old:
            self.rename(kind, old, new)

    def rename(self, kind: str, old: str, new: str) -> bool:
        project = self.document.project
        taken = {p.name for p in project.pipelines} if kind == "pipeline" else {c.name for c in project.connections}
        if new in taken:
            self.tell("Name taken", f"There is already a {kind} named '{new}'. Choose another name.")
            return False
        if kind == "pipeline":
            self.document.apply(with_renamed_pipeline(project, old, new), f"Rename pipeline '{old}' to '{new}'")
        else:
            self.document.apply(with_renamed_connection(project, old, new), f"Rename connection '{old}' to '{new}'")
        self.select(kind, new)
        return True

    def duplicate_selected(self) -> None:
        selected = self.selected()
        if selected and selected[0] == "pipeline":
            self.duplicate(selected[1])

    def duplicate(self, name: str) -> str:
        project, copy_name = with_duplicated_pipeline(self.document.project, name)
        self.document.apply(project, f"Duplicate pipeline '{name}'")
        self.select_pipeline(copy_name)
        return copy_name

    def prompt_delete(self) -> None:
        selected = self.selected()
        if not selected:
            return
        kind, name = selected
        if kind == "pipeline" and name in self._running:
            self.tell("Pipeline is running", f"'{name}' is running. Stop it before deleting it.")
            return
        text = f"Delete the {kind} '{name}'? You can undo this with Ctrl+Z."
        if kind == "connection":
            users = pipelines_using(self.document.project, name)
            if users:
                text = (f"The connection '{name}' is used by {', '.join(users)}; those pipelines will not run "
                        f"until you choose another connection. Delete it anyway? You can undo this with Ctrl+Z.")
        if self.confirm(f"Delete {kind}", text):
            self.delete(kind, name)

    def delete(self, kind: str, name: str) -> None:
        project = self.document.project
        if kind == "pipeline":
            self.document.apply(with_deleted_pipeline(project, name), f"Delete pipeline '{name}'")
        else:
            connections = [c for c in project.connections if c.name != name]
            self.document.apply(project.model_copy(update={"connections": connections}), f"Delete connection '{name}'")
