"""Column profiles for the preview: type, null share, distinct count, min/max, top values, histogram."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

TOP_VALUES = 5
HISTOGRAM_BINS = 10
# A text column whose every value reads as a number is profiled as numbers, because CSV
# sources hand every column over as text and an analyst still wants amounts binned.
_TEXT_LABEL_WIDTH = 24


@dataclass(frozen=True)
class ColumnProfile:
    type: str  # in the target type vocabulary: string, integer, decimal, float, boolean, date, datetime
    rows: int
    null_fraction: float
    distinct: int
    min: Any = None
    max: Any = None
    top_values: list[tuple[str, int]] = field(default_factory=list)
    histogram: list[tuple[str, int]] = field(default_factory=list)
    # "ranges" of values; "values": the most frequent values; "lengths": ranges of text lengths
    histogram_kind: str = "ranges"

    @property
    def null_percent(self) -> float:
        return 100.0 * self.null_fraction


def profile_column(series: pd.Series) -> ColumnProfile:
    """Profile one column of a preview (a few hundred rows; not meant for millions)."""
    rows = len(series)
    present = series[series.notna()]
    null_fraction = (rows - len(present)) / rows if rows else 0.0
    kind = vocabulary_type(series, present)
    distinct = int(present.astype(str).nunique()) if len(present) else 0
    top = _top_values(present)

    numbers = _as_numbers(present, kind)
    if numbers is not None and len(numbers):
        low, high = numbers.min(), numbers.max()
        if kind in ("integer",) or (kind == "string" and _all_whole(numbers)):
            low, high = int(low), int(high)
        elif kind.startswith("decimal"):
            # Exact values keep their scale (459.90, not 459.9): min/max of the Decimals themselves.
            exact = [v for v in present.tolist() if isinstance(v, decimal.Decimal)]
            if len(exact) == len(present):
                low, high = min(exact), max(exact)
        return ColumnProfile(kind, rows, null_fraction, distinct, _plain(low), _plain(high), top,
                             _numeric_histogram(numbers), "ranges")
    if kind in ("date", "datetime") and len(present):
        stamps = pd.to_datetime(present, errors="coerce").dropna()
        if len(stamps):
            low, high = stamps.min(), stamps.max()
            if kind == "date":
                low, high = low.date(), high.date()
            return ColumnProfile(kind, rows, null_fraction, distinct, low, high, top,
                                 _datetime_histogram(stamps, kind), "ranges")
    if len(present):
        texts = present.astype(str)
        if top and top[0][1] > 1:
            histogram, histogram_kind = _top_values(present, HISTOGRAM_BINS), "values"
        else:
            # Every value differs (names, e-mails): their lengths say more than ten bars of 1.
            histogram, histogram_kind = _numeric_histogram(texts.str.len().astype(float)), "lengths"
        return ColumnProfile(kind, rows, null_fraction, distinct, texts.min(), texts.max(), top, histogram, histogram_kind)
    return ColumnProfile(kind, rows, null_fraction, distinct, None, None, [], [], "ranges")


def vocabulary_type(series: pd.Series, present: pd.Series) -> str:
    dtype = series.dtype
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        arrow = dtype.pyarrow_dtype
        if pa.types.is_decimal(arrow):
            return f"decimal({arrow.precision},{arrow.scale})"
        if pa.types.is_integer(arrow):
            return "integer"
        if pa.types.is_floating(arrow):
            return "float"
        if pa.types.is_boolean(arrow):
            return "boolean"
        if pa.types.is_date(arrow):
            return "date"
        if pa.types.is_timestamp(arrow):
            return "datetime"
        return "string"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if dtype == object and len(present):
        sample = present.iloc[0]
        if isinstance(sample, decimal.Decimal):
            return "decimal"
        if isinstance(sample, bool):
            return "boolean"
        if isinstance(sample, dt.datetime):
            return "datetime"
        if isinstance(sample, dt.date):
            return "date"
    return "string"


def _as_numbers(present: pd.Series, kind: str) -> pd.Series | None:
    if kind in ("integer", "float") or kind.startswith("decimal"):
        return pd.to_numeric(present.astype(object).map(_float_or_nan), errors="coerce").dropna().astype(float)
    if kind == "string" and len(present):
        parsed = pd.to_numeric(present.astype(str).str.strip(), errors="coerce")
        if parsed.notna().all():
            return parsed.astype(float)
    return None


def _float_or_nan(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _all_whole(numbers: pd.Series) -> bool:
    return bool(np.all(np.mod(numbers.to_numpy(), 1) == 0))


def _plain(value: Any) -> Any:
    # numpy scalars print as np.float64(...) in some contexts; the GUI wants plain numbers.
    return value.item() if isinstance(value, np.generic) else value


def _top_values(present: pd.Series, n: int = TOP_VALUES) -> list[tuple[str, int]]:
    if not len(present):
        return []
    counts = present.astype(str).value_counts(sort=True)
    # value_counts breaks ties arbitrarily; sort by count then value so the list is stable.
    pairs = sorted(counts.items(), key=lambda item: (-int(item[1]), item[0]))
    return [(_shorten(value), int(count)) for value, count in pairs[:n]]


def _shorten(text: str) -> str:
    return text if len(text) <= _TEXT_LABEL_WIDTH else text[: _TEXT_LABEL_WIDTH - 1] + "…"


def _numeric_histogram(numbers: pd.Series) -> list[tuple[str, int]]:
    values = numbers.to_numpy(dtype=float)
    low, high = float(values.min()), float(values.max())
    if low == high:
        return [(_number_label(low), int(len(values)))]
    whole = _all_whole(numbers)
    bins = HISTOGRAM_BINS
    if whole and high - low + 1 <= bins:
        bins = int(high - low + 1)
        counts = pd.Series(values).value_counts()
        return [(_number_label(v), int(counts.get(float(v), 0))) for v in range(int(low), int(high) + 1)]
    counts, edges = np.histogram(values, bins=bins)
    return [(f"{_number_label(edges[i])}–{_number_label(edges[i + 1])}", int(c)) for i, c in enumerate(counts)]


def _number_label(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 1:
        return f"{value:,.1f}"
    return f"{value:.2g}"


def _datetime_histogram(stamps: pd.Series, kind: str) -> list[tuple[str, int]]:
    low, high = stamps.min(), stamps.max()
    if low == high:
        return [(str(low.date() if kind == "date" else low), int(len(stamps)))]
    span = high - low
    freq = "D" if span <= pd.Timedelta(days=HISTOGRAM_BINS) else None
    if freq == "D":
        counts = stamps.dt.normalize().value_counts().sort_index()
        return [(str(day.date()), int(c)) for day, c in counts.items()]
    values = stamps.dt.as_unit("ns").astype("int64").to_numpy()
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
    label_format = "%Y-%m-%d" if span >= pd.Timedelta(days=HISTOGRAM_BINS) else "%Y-%m-%d %H:%M"
    labels = [pd.Timestamp(int(e), tz=low.tz).strftime(label_format) for e in edges[:-1]]
    return [(labels[i], int(c)) for i, c in enumerate(counts)]
