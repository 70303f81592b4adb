"""The database table target's editor: key columns are asked for only when the mode is upsert."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from PySide6.QtWidgets import QWidget

from etl_studio.gui.editors.forms import ConfigForm, FormContext
from etl_studio.gui.editors.registry import target_editors


@target_editors.register("sql_table")
class SqlTableTargetEditor(ConfigForm):
    def __init__(self, model: type[BaseModel], config: dict[str, Any], context: FormContext, parent: QWidget | None = None) -> None:
        super().__init__(model, config, context, parent)
        self._sync_keys()

    def validate(self) -> dict[str, Any] | None:
        result = super().validate()
        self._sync_keys()
        return result

    def _sync_keys(self) -> None:
        keys = self.editors.get("keys")
        if keys is None or "mode" not in self.editors:
            return
        upsert = self.value_of("mode") == "upsert"
        keys.widget.setEnabled(upsert)
        keys.widget.setToolTip((keys.info.description or "") + ("" if upsert else "\n(only for the upsert mode)"))
