"""Item models of the mapping editor: the source columns (drag) and the target columns (drop, edit).

Every edit builds a new Pipeline snapshot and hands it to ``ProjectDocument.replace_pipeline``
so that it is one undo step; the models never change the project in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QMimeData, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont

from etl_studio.core.project.models import Pipeline, TargetColumn
from etl_studio.gui.project_document import ProjectDocument

COLUMN_MIME = "application/x-etl-studio-column"

# Roles shared by the views and the line overlay.
COLUMN_NAME_ROLE = Qt.ItemDataRole.UserRole + 1
IS_MAPPED_ROLE = Qt.ItemDataRole.UserRole + 2
FEED_SOURCE_ROLE = Qt.ItemDataRole.UserRole + 3  # the source column feeding a target, or None

# Unmapped required columns must stand out; unmapped optional ones only a little.
REQUIRED_UNMAPPED = QColor("#fde2e1")
OPTIONAL_UNMAPPED = QColor("#fff7e0")
MUTED_TEXT = QColor("#8a8f98")
MAPPED_SOURCE = QColor("#1a7f37")

_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class SourceColumnInfo:
    """A column that reaches the mapping: from the source, or made by a step (type unknown)."""

    name: str
    type: str = ""
    samples: tuple[str, ...] = ()


def encode_column(name: str) -> QMimeData:
    data = QMimeData()
    data.setData(COLUMN_MIME, name.encode("utf-8"))
    # Plain text too, so a column dropped into an expression editor inserts its name.
    data.setText(name)
    return data


def decode_column(data: QMimeData) -> str | None:
    if not data.hasFormat(COLUMN_MIME):
        return None
    return bytes(data.data(COLUMN_MIME).data()).decode("utf-8") or None


class SourceColumnsModel(QAbstractTableModel):
    """The columns that reach the mapping (source columns after the enabled steps)."""

    HEADERS = ("Source column", "Type", "Sample values")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._columns: list[SourceColumnInfo] = []
        self._mapped: dict[str, list[str]] = {}  # source column -> target columns it feeds

    # -- content
    def set_columns(self, columns: Sequence[SourceColumnInfo]) -> None:
        self.beginResetModel()
        self._columns = list(columns)
        self.endResetModel()

    def columns(self) -> list[SourceColumnInfo]:
        return list(self._columns)

    def names(self) -> list[str]:
        return [c.name for c in self._columns]

    def set_mapped(self, mapped: dict[str, list[str]]) -> None:
        if mapped == self._mapped:
            return
        self._mapped = dict(mapped)
        if self._columns:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._columns) - 1, len(self.HEADERS) - 1))

    def row_of(self, name: str) -> int:
        return next((i for i, c in enumerate(self._columns) if c.name == name), -1)

    # -- Qt model
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._columns)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._columns):
            return None
        column = self._columns[index.row()]
        targets = self._mapped.get(column.name, [])
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return column.name
            if col == 1:
                return column.type or "derived"
            if col == 2:
                return ", ".join(column.samples[:3])
        elif role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"<b>{_html(column.name)}</b> ({_html(column.type or 'made by a step')})"]
            if column.samples:
                lines.append("Samples: " + _html(", ".join(column.samples[:5])))
            if targets:
                lines.append("Feeds: " + _html(", ".join(targets)))
            else:
                lines.append("Not used yet: drag it onto a target column to map it.")
            return "<br>".join(lines)
        elif role == Qt.ItemDataRole.ForegroundRole:
            if col == 0 and targets:
                return QBrush(MAPPED_SOURCE)
            if col in (1, 2):
                return QBrush(MUTED_TEXT)
        elif role == Qt.ItemDataRole.FontRole and col == 0 and targets:
            font = QFont()
            font.setBold(True)
            return font
        elif role == COLUMN_NAME_ROLE:
            return column.name
        elif role == IS_MAPPED_ROLE:
            return bool(targets)
        return None

    def mimeTypes(self) -> list[str]:  # noqa: N802
        return [COLUMN_MIME, "text/plain"]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:  # noqa: N802
        rows = sorted({i.row() for i in indexes if i.isValid()})
        name = self._columns[rows[0]].name if rows else ""
        return encode_column(name)

    def supportedDragActions(self) -> Qt.DropAction:  # noqa: N802
        return Qt.DropAction.CopyAction | Qt.DropAction.LinkAction


# --- pipeline edits: plain functions over immutable snapshots -------------------------------


def with_mapping(pipeline: Pipeline, mapping: list[TargetColumn]) -> Pipeline:
    return pipeline.model_copy(update={"mapping": mapping})


def with_column(pipeline: Pipeline, name: str, **changes: Any) -> Pipeline:
    """The pipeline with target column ``name`` changed; validated (a bad type raises ValueError)."""
    mapping = []
    for column in pipeline.mapping:
        if column.name == name:
            column = TargetColumn.model_validate({**column.model_dump(), **changes})
        mapping.append(column)
    return with_mapping(pipeline, mapping)


def unique_name(base: str, taken: Sequence[str]) -> str:
    if base not in taken:
        return base
    n = 2
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


class ColumnMappingModel(QAbstractTableModel):
    """The target columns of one pipeline: name, type, nullable and what feeds each.

    Reads from, and edits through, the ProjectDocument; refreshes on ``document.changed``.
    """

    NAME, TYPE, NULLABLE, FEED = range(4)
    HEADERS = ("Target column", "Type", "Nullable", "Fed by")

    editRejected = Signal(str)  # one line for the user: why an edit was not taken

    def __init__(self, document: ProjectDocument, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.pipeline_name: str | None = None
        self._columns: list[TargetColumn] = []
        document.changed.connect(self.refresh)

    # -- reading
    @property
    def pipeline(self) -> Pipeline | None:
        if self.pipeline_name is None:
            return None
        try:
            return self.document.pipeline(self.pipeline_name)
        except Exception:  # noqa: BLE001 - the pipeline was renamed or removed by an undo
            return None

    def target_columns(self) -> list[TargetColumn]:
        return list(self._columns)

    def column_at(self, row: int) -> TargetColumn | None:
        return self._columns[row] if 0 <= row < len(self._columns) else None

    def row_of(self, name: str) -> int:
        return next((i for i, c in enumerate(self._columns) if c.name == name), -1)

    def set_pipeline(self, name: str | None) -> None:
        self.pipeline_name = name
        self.beginResetModel()
        pipeline = self.pipeline
        self._columns = list(pipeline.mapping) if pipeline else []
        self.endResetModel()

    def refresh(self) -> None:
        pipeline = self.pipeline
        new = list(pipeline.mapping) if pipeline else []
        if new == self._columns:
            return
        if len(new) == len(self._columns):
            # Same shape: keep the view's selection and scroll position.
            self._columns = new
            self.dataChanged.emit(self.index(0, 0), self.index(len(new) - 1, len(self.HEADERS) - 1))
            return
        self.beginResetModel()
        self._columns = new
        self.endResetModel()

    # -- editing (each call is one undo step)
    def _replace(self, pipeline: Pipeline, text: str, merge_key: str | None = None) -> None:
        assert self.pipeline_name is not None
        self.document.replace_pipeline(self.pipeline_name, pipeline, text, merge_key)

    def map_source(self, target: str, source: str) -> bool:
        pipeline = self.pipeline
        if pipeline is None or pipeline.target_column(target) is None:
            return False
        current = pipeline.target_column(target)
        if current is not None and current.source == source and current.expr is None:
            return False
        self._replace(with_column(pipeline, target, source=source, expr=None), f"Map {source} to {target}")
        return True

    def set_expression(self, target: str, expr: str | None, merge_key: str | None = None) -> None:
        pipeline = self.pipeline
        if pipeline is None or pipeline.target_column(target) is None:
            return
        text = (expr or "").strip() or None
        self._replace(with_column(pipeline, target, expr=text, source=None), f"Expression of {target}", merge_key)

    def unmap(self, target: str) -> bool:
        pipeline = self.pipeline
        column = pipeline.target_column(target) if pipeline else None
        if pipeline is None or column is None or not column.is_mapped:
            return False
        self._replace(with_column(pipeline, target, source=None, expr=None), f"Unmap {target}")
        return True

    def apply_pairs(self, pairs: Sequence[tuple[str, str]], text: str) -> int:
        """Map several (source, target) pairs as one undo step (auto-map)."""
        pipeline = self.pipeline
        if pipeline is None or not pairs:
            return 0
        feeds = {target: source for source, target in pairs}
        mapping = [
            c.model_copy(update={"source": feeds[c.name], "expr": None}) if c.name in feeds else c
            for c in pipeline.mapping
        ]
        self._replace(with_mapping(pipeline, mapping), text)
        return len(feeds)

    def add_column(self, name: str = "new_column", type_: str = "string", source: str | None = None, row: int | None = None) -> str | None:
        pipeline = self.pipeline
        if pipeline is None:
            return None
        name = unique_name(name.strip() or "new_column", [c.name for c in pipeline.mapping])
        column = TargetColumn(name=name, type=type_, source=source)
        mapping = list(pipeline.mapping)
        mapping.insert(len(mapping) if row is None else max(0, min(row, len(mapping))), column)
        text = f"Add column {name}" + (f" from {source}" if source else "")
        self._replace(with_mapping(pipeline, mapping), text)
        return name

    def remove_columns(self, names: Sequence[str]) -> None:
        pipeline = self.pipeline
        if pipeline is None or not names:
            return
        mapping = [c for c in pipeline.mapping if c.name not in set(names)]
        text = f"Remove column {names[0]}" if len(names) == 1 else f"Remove {len(names)} columns"
        self._replace(with_mapping(pipeline, mapping), text)

    def move_column(self, name: str, offset: int) -> bool:
        pipeline = self.pipeline
        if pipeline is None:
            return False
        mapping = list(pipeline.mapping)
        row = next((i for i, c in enumerate(mapping) if c.name == name), -1)
        new_row = row + offset
        if row < 0 or not 0 <= new_row < len(mapping):
            return False
        mapping.insert(new_row, mapping.pop(row))
        self._replace(with_mapping(pipeline, mapping), f"Move {name} {'up' if offset < 0 else 'down'}")
        return True

    def replace_columns(self, columns: list[TargetColumn], text: str) -> None:
        pipeline = self.pipeline
        if pipeline is not None:
            self._replace(with_mapping(pipeline, columns), text)

    def update_column(self, name: str, text: str, merge_key: str | None = None, **changes: Any) -> bool:
        """Change fields of one column; a bad value (type, duplicate name) is rejected with a message."""
        pipeline = self.pipeline
        if pipeline is None or pipeline.target_column(name) is None:
            return False
        new_name = changes.get("name")
        if new_name is not None:
            new_name = str(new_name).strip()
            if not new_name:
                self.editRejected.emit("a target column needs a name")
                return False
            if new_name != name and pipeline.target_column(new_name) is not None:
                self.editRejected.emit(f"there is already a target column named '{new_name}'")
                return False
            changes["name"] = new_name
        try:
            updated = with_column(pipeline, name, **changes)
        except ValueError as exc:
            self.editRejected.emit(_first_error(exc))
            return False
        self._replace(updated, text, merge_key)
        return True

    # -- Qt model
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._columns)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.HEADERS):
            if role == Qt.ItemDataRole.DisplayRole:
                return self.HEADERS[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return (
                    "Column name in the target table",
                    "Type the value is cast to before loading",
                    "Whether the column may hold NULL (a required column must be mapped)",
                    "The source column or expression that fills this column; drop a source column here",
                )[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDropEnabled
        if index.column() in (self.NAME, self.TYPE):
            flags |= Qt.ItemFlag.ItemIsEditable
        if index.column() == self.NULLABLE:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._columns):
            return None
        column = self._columns[index.row()]
        col = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if col == self.NAME:
                return column.name
            if col == self.TYPE:
                return column.type
            if col == self.NULLABLE:
                return None if role == Qt.ItemDataRole.DisplayRole else column.nullable
            if col == self.FEED:
                if column.source is not None:
                    return column.source
                if column.expr is not None:
                    return f"= {column.expr}"
                return "required — not mapped" if not column.nullable else "not mapped"
        if role == Qt.ItemDataRole.CheckStateRole and col == self.NULLABLE:
            return Qt.CheckState.Checked if column.nullable else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.BackgroundRole and not column.is_mapped:
            return QBrush(OPTIONAL_UNMAPPED if column.nullable else REQUIRED_UNMAPPED)
        if role == Qt.ItemDataRole.ForegroundRole and col == self.FEED and not column.is_mapped:
            return QBrush(QColor("#b42318") if not column.nullable else MUTED_TEXT)
        if role == Qt.ItemDataRole.FontRole and col == self.FEED and (not column.is_mapped or column.expr is not None):
            font = QFont()
            font.setItalic(not column.is_mapped)
            if column.expr is not None:
                font.setFamily("monospace")
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(column)
        if role == COLUMN_NAME_ROLE:
            return column.name
        if role == IS_MAPPED_ROLE:
            return column.is_mapped
        if role == FEED_SOURCE_ROLE:
            return column.source
        return None

    @staticmethod
    def _tooltip(column: TargetColumn) -> str:
        head = f"<b>{_html(column.name)}</b> {_html(column.type)}{'' if column.nullable else ', NOT NULL'}"
        if column.source is not None:
            body = f"Filled from source column <b>{_html(column.source)}</b>. Drag its line away to unmap."
        elif column.expr is not None:
            body = f"Computed: <code>{_html(column.expr)}</code>"
        elif not column.nullable:
            body = "Required and not mapped: drag a source column here or write an expression below."
        else:
            body = "Not mapped: it will be loaded as NULL. Drag a source column here to fill it."
        description = f"<br><i>{_html(column.description)}</i>" if column.description else ""
        return f"{head}<br>{body}{description}"

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        column = self.column_at(index.row()) if index.isValid() else None
        if column is None:
            return False
        col = index.column()
        if col == self.NULLABLE and role == Qt.ItemDataRole.CheckStateRole:
            nullable = Qt.CheckState(value) == Qt.CheckState.Checked if not isinstance(value, bool) else value
            return self.update_column(column.name, f"{'Allow' if nullable else 'Forbid'} NULL in {column.name}", nullable=nullable)
        if role != Qt.ItemDataRole.EditRole:
            return False
        if col == self.NAME:
            if str(value).strip() == column.name:
                return False
            return self.update_column(column.name, f"Rename {column.name} to {str(value).strip()}", name=value)
        if col == self.TYPE:
            text = str(value).strip().lower()
            if text == column.type:
                return False
            return self.update_column(column.name, f"Type of {column.name}: {text}", type=text)
        return False

    def mimeTypes(self) -> list[str]:  # noqa: N802
        return [COLUMN_MIME]

    def supportedDropActions(self) -> Qt.DropAction:  # noqa: N802
        return Qt.DropAction.CopyAction | Qt.DropAction.LinkAction


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            return str(first.get("msg", exc)).removeprefix("Value error, ")
        except Exception:  # noqa: BLE001
            pass
    return str(exc).splitlines()[0]


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
