"""The Rules tab: a pipeline's quality rules in a table (kind, column, parameters, severity, action, failing rows)."""

from __future__ import annotations

import functools
import re
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTableView,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from etl_studio.core import plugins
from etl_studio.core.project.models import RuleSpec
from etl_studio.gui.editors import ConfigForm, FormContext, create_editor
from etl_studio.gui.editors.pipeline_page import PipelinePage
from etl_studio.gui.icons import icon
from etl_studio.gui.project_document import ProjectDocument
from etl_studio.gui.style import MARGIN, SPACING, colour, empty_state

_COLUMN_KEYS = ("column", "columns")


def rule_title(kind: str) -> str:
    return (plugins.rules.get(kind).title or kind) if kind in plugins.rules else kind


def short_value(value: Any) -> str:
    """A config value as one short line: lists joined, a nested plugin spec as 'kind (settings)'."""
    if isinstance(value, list):
        return ", ".join(short_value(v) for v in value)
    if isinstance(value, dict):
        if "kind" in value:
            inner = short_value(value.get("config") or {})
            return f"{value['kind']} ({inner})" if inner else str(value["kind"])
        return "; ".join(f"{k.replace('_', ' ')}: {short_value(v)}" for k, v in value.items())
    return str(value)


def rule_columns(spec: RuleSpec) -> str:
    value = next((spec.config[k] for k in _COLUMN_KEYS if k in spec.config), "")
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value or "")


def rule_parameters(spec: RuleSpec) -> str:
    parts = []
    for key, value in spec.config.items():
        if key in _COLUMN_KEYS:
            continue
        parts.append(f"{key.replace('_', ' ')} = {short_value(value)}")
    return "; ".join(parts)


class RulesModel(QAbstractTableModel):
    HEADERS = ("Rule", "Kind", "Column", "Parameters", "Severity", "Action", "Failing rows (preview)")
    FAILING = 6

    def __init__(self, page: "RulesEditor") -> None:
        super().__init__(page)
        self.page = page
        self.rules: list[RuleSpec] = []
        self.counts: dict[str, int] | None = None

    def set_rules(self, rules: list[RuleSpec]) -> None:
        self.beginResetModel()
        self.rules = list(rules)
        self.endResetModel()

    def set_counts(self, counts: dict[str, int] | None) -> None:
        self.counts = dict(counts) if counts is not None else None
        if self.rules:
            self.dataChanged.emit(self.index(0, self.FAILING), self.index(len(self.rules) - 1, self.FAILING))

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rules)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def _failing(self, spec: RuleSpec) -> int | None:
        if self.counts is None or not spec.enabled:
            return None
        return self.counts.get(spec.name)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        spec = self.rules[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == self.FAILING:
                failing = self._failing(spec)
                if not spec.enabled:
                    return "disabled"
                return "—" if failing is None else f"{failing:,}"
            return (spec.name, rule_title(spec.kind), rule_columns(spec), rule_parameters(spec), spec.severity, spec.action)[column]
        if role == Qt.ItemDataRole.CheckStateRole and column == 0:
            return Qt.CheckState.Checked if spec.enabled else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.DecorationRole:
            if column == 4:
                return icon("error" if spec.severity == "error" else "warning")
            if column == self.FAILING:
                failing = self._failing(spec)
                return None if failing is None else icon("ok" if failing == 0 else "warning" if spec.severity == "warning" else "error")
        if role == Qt.ItemDataRole.ForegroundRole:
            if not spec.enabled:
                return colour("muted")
            if column == self.FAILING and (self._failing(spec) or 0) > 0:
                return colour("error" if spec.severity == "error" else "warning")
        if role == Qt.ItemDataRole.TextAlignmentRole and column == self.FAILING:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == self.FAILING:
                if self.counts is None:
                    return "Run a preview (F6) to see how many of the preview rows this rule fails"
                return f"{self._failing(spec) or 0} of the preview rows fail this rule"
            if column == 5:
                return ("Failing rows are set aside in quarantine; the others load" if spec.action == "quarantine"
                        else "One failing row fails the whole run; nothing loads")
            return plugins.rules.get(spec.kind).description if spec.kind in plugins.rules else "unknown rule kind"
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == 0:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if index.isValid() and index.column() == 0 and role == Qt.ItemDataRole.CheckStateRole:
            self.page.update_rule(index.row(), {"enabled": Qt.CheckState(value) == Qt.CheckState.Checked}, "enabled")
            return True
        return False

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None


def unique_rule_name(base: str, taken: set[str]) -> str:
    base = re.sub(r"[^0-9A-Za-z_]+", "_", base).strip("_") or "rule"
    name, n = base, 2
    while name in taken:
        name = f"{base}_{n}"
        n += 1
    return name


class RulesEditor(PipelinePage):
    def __init__(self, document: ProjectDocument, parent: QWidget | None = None) -> None:
        super().__init__(document, parent)
        self.setObjectName("rulesEditor")
        plugins.load_builtin_plugins()
        self.form: ConfigForm | None = None
        self._form_key: tuple[str, int, str] | None = None
        self.columns: list[str] = []

        layout = QVBoxLayout(self)
        layout.setContentsMargins(MARGIN, MARGIN, MARGIN, MARGIN)
        layout.setSpacing(SPACING)
        self.toolbar = QToolBar(self)
        self.toolbar.setObjectName("rulesToolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.kinds_menu = QMenu(self)
        self.kinds_menu.setObjectName("rulesPalette")
        self.kinds_menu.setToolTipsVisible(True)
        for key, cls in plugins.rules.items():
            action = self.kinds_menu.addAction(icon("rules"), cls.title or key)
            action.setObjectName(f"addRule_{key}")
            action.setToolTip(cls.description)
            action.triggered.connect(functools.partial(self.add_rule, key))
        self.add_button = QToolButton(self)
        self.add_button.setObjectName("addRuleButton")
        self.add_button.setIcon(icon("add"))
        self.add_button.setText("Add rule")
        self.add_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.add_button.setToolTip("Add a quality rule (not empty, unique, range, pattern …)")
        self.add_button.setMenu(self.kinds_menu)
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.toolbar.addWidget(self.add_button)
        self.remove_action = self.toolbar.addAction(icon("remove"), "Delete", self.remove_selected)
        self.remove_action.setObjectName("removeRuleAction")
        self.remove_action.setToolTip("Delete the selected rule")
        layout.addWidget(self.toolbar)

        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.setObjectName("rulesSplitter")
        self.table_stack = QStackedWidget(splitter)
        self.model = RulesModel(self)
        self.view = QTableView(self.table_stack)
        self.view.setObjectName("rulesTable")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.verticalHeader().hide()
        self.view.setAlternatingRowColors(True)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.view.selectionModel().currentRowChanged.connect(lambda *_: self._show_selected())
        self.empty = empty_state("No quality rules yet: every row loads as it is.\nClick “Add rule” to check for empty values, "
                                 "duplicates, ranges or patterns.", "rulesEmpty", self.table_stack)
        self.table_stack.addWidget(self.empty)
        self.table_stack.addWidget(self.view)
        splitter.addWidget(self.table_stack)

        self.detail = QScrollArea(splitter)
        self.detail.setObjectName("ruleDetail")
        self.detail.setWidgetResizable(True)
        self.detail.setFrameShape(QScrollArea.Shape.NoFrame)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        layout.addWidget(splitter, 1)
        self._show_selected()

    # -- showing
    def reload(self) -> None:
        pipeline = self.pipeline()
        self.setEnabled(pipeline is not None)
        row = self.selected_row()
        self.model.set_rules(pipeline.rules if pipeline else [])
        self.table_stack.setCurrentIndex(1 if self.model.rules else 0)
        if self.model.rules:
            self.select_row(min(max(row, 0), len(self.model.rules) - 1))
        self._show_selected()

    def set_pipeline(self, name: str | None) -> None:
        if name != self.pipeline_name:
            self.model.set_counts(None)
        super().set_pipeline(name)

    def set_rule_counts(self, counts: dict[str, int] | None) -> None:
        """Failing rows per rule name, from the latest preview (PreviewResult.rule_counts)."""
        self.model.set_counts(counts)

    def handle_preview(self, result: Any) -> None:
        self.set_rule_counts(getattr(result, "rule_counts", None))

    def set_columns(self, columns: list[str]) -> None:
        """The target columns the rules can check (offered in the forms)."""
        self.columns = list(columns)
        if self.form is not None:
            self.form.set_columns(self.columns)

    def selected_row(self) -> int:
        index = self.view.currentIndex()
        return index.row() if index.isValid() else -1

    def select_row(self, row: int) -> None:
        self.view.setCurrentIndex(self.model.index(row, 0))

    def _show_selected(self) -> None:
        row = self.selected_row()
        has = 0 <= row < len(self.model.rules)
        self.remove_action.setEnabled(has)
        if not has:
            self.form = None
            self._form_key = None
            self.detail.setWidget(empty_state("Select a rule to edit it.", "ruleDetailEmpty") if self.model.rules else QWidget())
            return
        spec = self.model.rules[row]
        key = (self.pipeline_name or "", row, spec.kind)
        if self.form is not None and self._form_key == key:
            self._fill_common(spec)
            self.form.set_config(spec.config)
            return
        holder = QWidget()
        holder.setObjectName("ruleDetailHolder")
        holder_layout = QVBoxLayout(holder)
        holder_layout.setContentsMargins(0, SPACING, 0, 0)
        title = QLabel(f"{rule_title(spec.kind)} rule", holder)
        title.setObjectName("ruleTitle")
        title.setProperty("role", "section-title")
        holder_layout.addWidget(title)
        common = QFormLayout()
        self.name_edit = QLineEdit(holder)
        self.name_edit.setObjectName("ruleName")
        self.name_edit.setToolTip("Quarantined rows and run results cite the rule by this name")
        self.name_edit.editingFinished.connect(self._name_edited)
        common.addRow("Name *", self.name_edit)
        self.severity_combo = QComboBox(holder)
        self.severity_combo.setObjectName("ruleSeverity")
        self.severity_combo.addItem(icon("error"), "error", "error")
        self.severity_combo.addItem(icon("warning"), "warning", "warning")
        self.severity_combo.setToolTip("error: failing rows are handled by the action; warning: only reported")
        self.severity_combo.activated.connect(lambda: self.update_rule(self.selected_row(), {"severity": self.severity_combo.currentData()}, "severity"))
        common.addRow("Severity", self.severity_combo)
        self.action_combo = QComboBox(holder)
        self.action_combo.setObjectName("ruleAction")
        self.action_combo.addItem("quarantine the failing rows", "quarantine")
        self.action_combo.addItem("fail the whole run", "fail")
        self.action_combo.setToolTip("What happens to rows that fail an error rule")
        self.action_combo.activated.connect(lambda: self.update_rule(self.selected_row(), {"action": self.action_combo.currentData()}, "action"))
        common.addRow("Action", self.action_combo)
        self.enabled_check = QCheckBox("checked on every run", holder)
        self.enabled_check.setObjectName("ruleEnabled")
        self.enabled_check.toggled.connect(lambda on: self.update_rule(self.selected_row(), {"enabled": on}, "enabled"))
        common.addRow("Enabled", self.enabled_check)
        self.name_error = QLabel(holder)
        self.name_error.setObjectName("ruleNameError")
        self.name_error.setStyleSheet(f"color: {colour('error').name()};")
        self.name_error.hide()
        common.addRow("", self.name_error)
        holder_layout.addLayout(common)
        self._fill_common(spec)
        if spec.kind in plugins.rules:
            context = FormContext(columns=self.columns, connections=[c.name for c in self.document.project.connections],
                                  project_dir=self.document.project_dir)
            self.form = create_editor("rule", spec.kind, spec.config, context, holder)
            self.form.configChanged.connect(functools.partial(self._config_edited, row))
            holder_layout.addWidget(self.form)
            self._form_key = key
        else:
            self.form = None
            self._form_key = None
        holder_layout.addStretch(1)
        self.detail.setWidget(holder)

    def _fill_common(self, spec: RuleSpec) -> None:
        for widget in (self.name_edit, self.severity_combo, self.action_combo, self.enabled_check):
            widget.blockSignals(True)
        if self.name_edit.text() != spec.name:
            self.name_edit.setText(spec.name)
        self.severity_combo.setCurrentIndex(self.severity_combo.findData(spec.severity))
        self.action_combo.setCurrentIndex(self.action_combo.findData(spec.action))
        self.enabled_check.setChecked(spec.enabled)
        for widget in (self.name_edit, self.severity_combo, self.action_combo, self.enabled_check):
            widget.blockSignals(False)

    # -- editing
    def _rules_edit(self, rules: list[RuleSpec], text: str, merge_key: str | None = None) -> None:
        pipeline = self.pipeline()
        if pipeline is not None:
            self.edit(pipeline.model_copy(update={"rules": rules}), text, merge_key)

    def add_rule(self, kind: str, column: str | None = None) -> int:
        pipeline = self.pipeline()
        if pipeline is None:
            return -1
        name = unique_rule_name(f"{kind}_{column}" if column else kind, {r.name for r in pipeline.rules})
        config: dict[str, Any] = {}
        if column:
            fields = plugins.rules.get(kind).config_model.model_fields
            if "column" in fields:
                config["column"] = column
            elif "columns" in fields:
                config["columns"] = [column]
        self._rules_edit([*pipeline.rules, RuleSpec(kind=kind, name=name, config=config)], f"Add rule '{name}'")
        row = len(pipeline.rules)
        self.select_row(row)
        self._show_selected()
        return row

    def remove_selected(self) -> None:
        pipeline = self.pipeline()
        row = self.selected_row()
        if pipeline is None or not 0 <= row < len(pipeline.rules):
            return
        name = pipeline.rules[row].name
        self._rules_edit([r for i, r in enumerate(pipeline.rules) if i != row], f"Delete rule '{name}'")

    def update_rule(self, row: int, changes: dict[str, Any], field: str) -> None:
        pipeline = self.pipeline()
        if pipeline is None or not 0 <= row < len(pipeline.rules):
            return
        rules = list(pipeline.rules)
        rules[row] = RuleSpec.model_validate({**rules[row].model_dump(), **changes})
        self._rules_edit(rules, f"Change {field} of rule '{rules[row].name}'", merge_key=f"{pipeline.name}.rules[{row}].{field}")

    def _name_edited(self) -> None:
        pipeline = self.pipeline()
        row = self.selected_row()
        if pipeline is None or not 0 <= row < len(pipeline.rules):
            return
        name = self.name_edit.text().strip()
        taken = {r.name for i, r in enumerate(pipeline.rules) if i != row}
        problem = "A rule needs a name." if not name else f"Another rule is already named '{name}'." if name in taken else ""
        self.name_error.setText(problem)
        self.name_error.setVisible(bool(problem))
        if not problem and name != pipeline.rules[row].name:
            self.update_rule(row, {"name": name}, "name")

    def _config_edited(self, row: int, config: dict[str, Any], field: str) -> None:
        self.update_rule(row, {"config": config}, field)
