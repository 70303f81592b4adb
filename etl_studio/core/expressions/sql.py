"""Render a checked expression as SQL for PostgreSQL, MySQL/MariaDB or SQLite (in-database execution)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlglot import exp

from etl_studio.core.expressions.errors import SqlRenderError


def render(tree: exp.Expression, text: str, dialect: str, column_types: Mapping[str, Any], columns: frozenset[str]) -> str:
    raise SqlRenderError("not yet", 0, len(text))
