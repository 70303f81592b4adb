"""Shared checks for steps and rules: unknown column names, text columns, parsed source specs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from pydantic import Field, ValidationError, field_validator

from etl_studio.core.context import RunContext
from etl_studio.core.errors import ConfigError
from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.steps.row_errors import ROW_ERROR_COLUMN


def visible(columns: Iterable[str]) -> list[str]:
    """The columns an analyst sees: the reserved row-error column is plumbing."""
    return [c for c in columns if c != ROW_ERROR_COLUMN]


def require_columns(where: str, wanted: Iterable[str], available: Iterable[str]) -> None:
    """Raise ConfigError naming the first wanted column that is not available."""
    have = list(available)
    known = set(have)
    for name in wanted:
        if name not in known:
            listing = ", ".join(visible(have)) or "none"
            raise ConfigError(f"unknown column '{name}' in {where} (columns: {listing})")


def is_text(series: pd.Series) -> bool:
    """Text as CSV sources give it ("string"), pandas 3's "str", object columns of strings."""
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype) or dtype == object:
        return True
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        return pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(dtype.pyarrow_dtype)
    return False


def as_text(series: pd.Series) -> pd.Series:
    """``series`` as nullable text with NULLs kept as pd.NA (numbers in their plain form)."""
    if isinstance(series.dtype, pd.StringDtype) and series.dtype.na_value is pd.NA:
        return series
    return series.astype("string")


class SourceSpec(PluginConfig):
    """A source nested in a step or rule config (lookup, referential): its kind and config."""

    kind: str = Field(description="The source kind, as in a pipeline's source (e.g. 'csv_file').")
    config: dict[str, Any] = Field(default_factory=dict, description="That source's own settings.")

    @field_validator("kind")
    @classmethod
    def _kind_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a source kind is required (e.g. 'csv_file')")
        return value


def load_source(spec: SourceSpec, context: RunContext, columns: list[str] | None, where: str) -> pd.DataFrame:
    """Read a whole (small) reference source into one frame, keeping only ``columns``."""
    from etl_studio.core import plugins

    plugins.load_builtin_plugins()
    if spec.kind not in plugins.sources:
        raise ConfigError(f"unknown source kind '{spec.kind}' in {where} (known: {', '.join(plugins.sources.keys())})")
    try:
        source = plugins.sources.get(spec.kind).from_spec(spec.config, context)
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{where} source ({spec.kind}): {place + ': ' if place else ''}{first['msg']}") from None
    parts: list[pd.DataFrame] = []
    for chunk in source.read_chunks(50_000):  # type: ignore[attr-defined]
        context.check_cancelled()
        if columns is not None:
            require_columns(f"{where} source", columns, chunk.columns)
            chunk = chunk[columns]
        parts.append(chunk)
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in (columns or [])})
    return pd.concat(parts, ignore_index=True)
