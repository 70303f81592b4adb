"""The open project as the GUI sees it: the model, its file, dirty state and the undo stack."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from etl_studio.core.errors import InvalidInputError
from etl_studio.core.project import Connection, Pipeline, Project, load_project, save_project


class ReplaceProjectPart(QUndoCommand):
    """Every edit swaps a whole immutable-by-convention snapshot, so undo is exact and simple.

    ``merge_key`` lets consecutive edits of one field (typing an expression) collapse into
    one undo step.
    """

    _MERGE_ID = 1

    def __init__(self, document: "ProjectDocument", before: Project, after: Project, text: str, merge_key: str | None = None) -> None:
        super().__init__(text)
        self.document, self.before, self.after, self.merge_key = document, before, after, merge_key

    def redo(self) -> None:
        self.document._set(self.after)

    def undo(self) -> None:
        self.document._set(self.before)

    def id(self) -> int:  # noqa: A003 - Qt's name
        return self._MERGE_ID if self.merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if isinstance(other, ReplaceProjectPart) and other.merge_key and other.merge_key == self.merge_key:
            self.after = other.after
            return True
        return False


class ProjectDocument(QObject):
    """Holds the Project; widgets never mutate it in place — they call the edit methods."""

    changed = Signal()  # any edit, undo or redo
    pathChanged = Signal(str)

    def __init__(self, project: Project | None = None, path: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._project = project or Project()
        self.path = path
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(500)

    # -- reading
    @property
    def project(self) -> Project:
        return self._project

    @property
    def project_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    @property
    def is_dirty(self) -> bool:
        return not self.undo_stack.isClean()

    def pipeline(self, name: str) -> Pipeline:
        return self._project.pipeline(name)

    def find_pipeline(self, name: str | None) -> Pipeline | None:
        """The pipeline named ``name``, or None (no name, or none of that name any more)."""
        if name is None:
            return None
        try:
            return self._project.pipeline(name)
        except InvalidInputError:
            return None

    # -- editing
    def _set(self, project: Project) -> None:
        self._project = project
        self.changed.emit()

    def apply(self, after: Project, text: str, merge_key: str | None = None) -> None:
        """Push an undoable edit that replaces the project with ``after``."""
        if after == self._project:
            return
        self.undo_stack.push(ReplaceProjectPart(self, self._project, after, text, merge_key))

    def replace_pipeline(self, name: str, pipeline: Pipeline, text: str, merge_key: str | None = None) -> None:
        pipelines = [pipeline if p.name == name else p for p in self._project.pipelines]
        self.apply(self._project.model_copy(update={"pipelines": pipelines}), text, merge_key)

    def replace_connection(self, name: str, connection: Connection, text: str) -> None:
        connections = [connection if c.name == name else c for c in self._project.connections]
        self.apply(self._project.model_copy(update={"connections": connections}), text)

    # -- files
    @classmethod
    def open(cls, path: Path, parent: QObject | None = None) -> "ProjectDocument":
        return cls(load_project(path), path, parent)

    def save(self, path: Path | None = None) -> Path:
        target = path or self.path
        if target is None:
            raise ValueError("no file name yet: use Save As")
        save_project(self._project, target)
        if target != self.path:
            self.path = target
            self.pathChanged.emit(str(target))
        self.undo_stack.setClean()
        return target
