"""Editor registries: one config editor per plugin key, the generated ConfigForm by default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from PySide6.QtWidgets import QWidget

from etl_studio.core import plugins
from etl_studio.core.registry import Registry
from etl_studio.gui.editors.forms import ConfigForm, FormContext

# An editor factory takes (config_model, config, context, parent) and returns a widget with
# the ConfigForm interface: configChanged(dict, str), set_config(dict), set_columns(list),
# set_table_choices(list), is_valid.
EditorFactory = Callable[[type[BaseModel], dict[str, Any], FormContext, QWidget | None], ConfigForm]

source_editors: Registry[EditorFactory] = Registry("source editor")
step_editors: Registry[EditorFactory] = Registry("step editor")
rule_editors: Registry[EditorFactory] = Registry("rule editor")
target_editors: Registry[EditorFactory] = Registry("target editor")

EDITOR_REGISTRIES: dict[str, Registry[EditorFactory]] = {
    "source": source_editors,
    "step": step_editors,
    "rule": rule_editors,
    "target": target_editors,
}


def _default_factory(model: type[BaseModel], config: dict[str, Any], context: FormContext, parent: QWidget | None) -> ConfigForm:
    return ConfigForm(model, config, context, parent)


def editor_factory(group: str, kind: str) -> EditorFactory:
    """The editor registered for ``kind`` in ``group`` ("source", "step", "rule", "target")."""
    registry = EDITOR_REGISTRIES[group]
    return registry.get(kind) if kind in registry else _default_factory


def create_editor(group: str, kind: str, config: dict[str, Any], context: FormContext, parent: QWidget | None = None) -> ConfigForm:
    plugins.load_builtin_plugins()
    plugin = plugins.REGISTRIES[group].get(kind)
    editor = editor_factory(group, kind)(plugin.config_model, config, context, parent)
    editor.setObjectName(f"{group}Editor_{kind}")
    return editor
