"""The QualityRule contract: per chunk, the reason each failing row fails (NULL passes all but not_null)."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import pandas as pd

from etl_studio.core.context import RunContext
from etl_studio.core.plugin_base import Plugin, PluginConfig


class QualityRule(Plugin[PluginConfig]):
    def __init__(self, config: PluginConfig, context: RunContext, *, name: str = "", severity: str = "error", action: str = "quarantine") -> None:
        super().__init__(config, context)
        self.name = name or self.kind
        self.severity = severity
        self.action = action

    @abstractmethod
    def columns(self) -> list[str]:
        """The columns this rule reads (validated against the mapped target columns)."""

    @abstractmethod
    def check(self, chunk: pd.DataFrame) -> pd.Series:
        """A Series aligned to ``chunk.index``: None/NA where the row passes, else a short reason
        ("'bob@' is not an e-mail address"). Whole-run rules (unique) keep state across chunks:
        the first occurrence passes, later ones fail."""

    def finish(self) -> str | None:
        """After the last chunk: a run-level failure reason (row_count), else None."""
        return None

    def to_sql(self, dialect: str) -> str | None:
        """A SQL predicate that is TRUE for passing rows, or None when it cannot be expressed."""
        return None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "severity": self.severity, "action": self.action}
