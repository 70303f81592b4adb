"""Incremental extraction: the read window from the watermark, the filter for file sources, the new watermark, execution ids."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal

import pandas as pd

from etl_studio.core.errors import ConfigError, InvalidInputError
from etl_studio.core.project.models import Incremental, Pipeline

Kind = Literal["timestamp", "id"]


@dataclass(frozen=True)
class IncrementalWindow:
    """Which rows a run reads: ``column`` > ``lower`` (>= when ``inclusive``); everything when ``lower`` is None."""

    column: str
    kind: Kind
    lower: datetime | int | None
    inclusive: bool
    previous: str | None  # the committed watermark the window starts from

    def describe(self) -> str:
        if self.lower is None:
            return f"all rows (no watermark yet for {self.column})"
        return f"rows with {self.column} {'>=' if self.inclusive else '>'} {format_watermark(self.kind, self.lower)}"


def parse_watermark(kind: Kind, text: str) -> datetime | int:
    """A watermark as typed: a datetime (ISO 8601, a date alone is midnight) or a whole number."""
    value = text.strip()
    try:
        if kind == "id":
            return int(value)
        return datetime.fromisoformat(value)
    except ValueError:
        example = "1000" if kind == "id" else "2024-01-31 or 2024-01-31T08:00:00"
        raise InvalidInputError(f"{text!r} is not a valid {kind} watermark (e.g. {example})") from None


def format_watermark(kind: Kind, value: Any) -> str:
    if kind == "id":
        return str(int(value))
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day).isoformat()
    return str(value)


def window_for(incremental: Incremental, watermark: str | None) -> IncrementalWindow:
    """The window of the next run: after the watermark (minus the look-back), or from the start value."""
    kind: Kind = incremental.kind
    if watermark is None:
        if incremental.initial_value:
            return IncrementalWindow(incremental.column, kind, parse_watermark(kind, incremental.initial_value), True, None)
        return IncrementalWindow(incremental.column, kind, None, False, None)
    lower = parse_watermark(kind, watermark)
    if incremental.lookback:
        if isinstance(lower, datetime):
            lower = lower - timedelta(seconds=incremental.lookback)
        else:
            lower = lower - int(incremental.lookback)
        return IncrementalWindow(incremental.column, kind, lower, True, watermark)
    return IncrementalWindow(incremental.column, kind, lower, False, watermark)


def _naive_utc(value: datetime) -> datetime:
    return value if value.tzinfo is None else value.astimezone(timezone.utc).replace(tzinfo=None)


def column_values(chunk: pd.DataFrame, window: IncrementalWindow) -> pd.Series:
    """The incremental column as comparable values (naive UTC datetimes or numbers); unreadable ones are NaN/NaT."""
    if window.column not in chunk.columns:
        raise ConfigError(
            f"incremental column '{window.column}' is not a column of the source (columns: {', '.join(map(str, chunk.columns))})"
        )
    series = chunk[window.column]
    if window.kind == "id":
        return pd.to_numeric(series, errors="coerce")
    text = str(series.dtype)
    if pd.api.types.is_datetime64_any_dtype(series) or "timestamp" in text or "date32" in text:
        values = pd.to_datetime(series.astype("object").where(series.notna(), None), errors="coerce", utc=True)
        return values.dt.tz_localize(None) if len(values) else values
    else:
        values = pd.to_datetime(series.astype("object").where(series.notna(), None), errors="coerce", format="ISO8601")
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values


def filter_chunk(chunk: pd.DataFrame, window: IncrementalWindow) -> pd.DataFrame:
    """The rows of a chunk inside the window (for sources that cannot filter themselves, e.g. files)."""
    if window.lower is None or len(chunk) == 0:
        return chunk
    values = column_values(chunk, window)
    lower: Any = _naive_utc(window.lower) if isinstance(window.lower, datetime) else window.lower
    keep = values >= lower if window.inclusive else values > lower
    return chunk[keep.fillna(False).astype(bool)]


class WatermarkTracker:
    """The largest value of the incremental column among the rows read: the next watermark."""

    def __init__(self, window: IncrementalWindow) -> None:
        self.window = window
        self.largest: Any = None
        self.unreadable = 0

    def observe(self, chunk: pd.DataFrame) -> None:
        if len(chunk) == 0:
            return
        values = column_values(chunk, self.window)
        self.unreadable += int(values.isna().sum() - chunk[self.window.column].isna().sum())
        if values.notna().any():
            top = values.max()
            if self.largest is None or top > self.largest:
                self.largest = top

    def new_watermark(self) -> str | None:
        """The watermark to commit: never behind the previous one (a look-back re-read cannot move it back)."""
        previous = self.window.previous
        if self.largest is None:
            return previous
        candidate = self.largest
        if previous is not None:
            before: Any = parse_watermark(self.window.kind, previous)
            if isinstance(before, datetime):
                before = _naive_utc(before)
                candidate_cmp = _naive_utc(pd.Timestamp(candidate).to_pydatetime())
                if candidate_cmp <= before:
                    return previous
            elif candidate <= before:
                return previous
        return format_watermark(self.window.kind, candidate)


def apply_window(source: Any, window: IncrementalWindow) -> bool:
    """Hand the window to a source that filters in its own query; False when the engine must filter after reading."""
    pushdown = getattr(source, "read_incremental", None)
    return bool(pushdown(window)) if callable(pushdown) else False


def execution_id_for(pipeline: Pipeline, params: Mapping[str, Any]) -> str | None:
    """The run's execution id, whose second commit is refused (a rerun of a window loads nothing).

    The ``execution_id`` parameter when given (empty turns it off); else, for a pipeline that
    appends, its name and window parameters (window_start / window_end / run_date, as the
    scheduler passes them). Keyed modes (upsert, merge, scd2, replace) are idempotent by
    themselves, so a rerun of their window may refresh it and gets no automatic id.
    """
    if "execution_id" in params:
        explicit = params.get("execution_id")
        return str(explicit) if explicit not in (None, "") else None
    if pipeline.target.config.get("mode", "append") != "append":
        return None
    window = [f"{name}={params[name]}" for name in ("window_start", "window_end", "run_date") if params.get(name) not in (None, "")]
    if not window:
        return None
    return pipeline.name + "|" + "|".join(window)


def incremental_problems(pipeline: Pipeline) -> list[str]:
    """Settings that contradict an incremental read (deleting or closing what this run did not read)."""
    if pipeline.incremental is None:
        return []
    config = pipeline.target.config
    found = []
    if config.get("delete_missing"):
        found.append("'delete_missing' would delete every row not read by this incremental run; use it only with full snapshots")
    if config.get("close_missing"):
        found.append("'close_missing' would close every key not read by this incremental run; use it only with full snapshots")
    if config.get("mode") == "replace":
        found.append("mode 'replace' with an incremental read would leave only the new rows in the table")
    return found
