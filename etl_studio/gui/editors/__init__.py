"""Plugin config editors: a form generated from each config model, overridable per plugin key."""

from etl_studio.gui.editors.forms import ConfigForm, FormContext
from etl_studio.gui.editors.registry import EDITOR_REGISTRIES, create_editor, editor_factory

# Editors registered for particular plugin keys (the rest get the generated form).
from etl_studio.gui.editors import csv_file as _csv_file  # noqa: E402,F401
from etl_studio.gui.editors import sql_table as _sql_table  # noqa: E402,F401

__all__ = ["ConfigForm", "EDITOR_REGISTRIES", "FormContext", "create_editor", "editor_factory"]
