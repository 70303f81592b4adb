"""Plugin config editors: a form generated from each config model, overridable per plugin key."""

from etl_studio.gui.editors.forms import ConfigForm, FormContext
from etl_studio.gui.editors.registry import EDITOR_REGISTRIES, create_editor, editor_factory

__all__ = ["ConfigForm", "EDITOR_REGISTRIES", "FormContext", "create_editor", "editor_factory"]
