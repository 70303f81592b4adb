"""Shared by the sources: Arrow data to pandas chunks with stable nullable dtypes and running row numbers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa

TEXT = pd.StringDtype("pyarrow")  # "string": pd.NA for nulls, unlike pandas 3's default "str"


def pandas_dtype_for(arrow_type: pa.DataType) -> Any:
    """The pandas dtype a source column of this Arrow type becomes (None: pandas' default).

    Integers and booleans become nullable pandas types so that a NULL never turns 1 into 1.0;
    decimals stay exact as Arrow decimals; dates stay dates (not midnight timestamps).
    """
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return TEXT
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    if pa.types.is_integer(arrow_type):
        return pd.UInt64Dtype() if arrow_type == pa.uint64() else pd.Int64Dtype()
    if pa.types.is_floating(arrow_type):
        return pd.Float64Dtype()
    if pa.types.is_decimal(arrow_type) or pa.types.is_date(arrow_type):
        return pd.ArrowDtype(arrow_type)
    return None


def table_to_frame(table: pa.Table | pa.RecordBatch, start: int) -> pd.DataFrame:
    """A pandas chunk whose index is the running 0-based row number of the source, from ``start``."""
    frame = table.to_pandas(types_mapper=pandas_dtype_for)
    frame.index = pd.RangeIndex(start, start + len(frame))
    return frame


def values_to_series(values: Sequence[Any], arrow_type: pa.DataType | None = None) -> pd.Series:
    """Python values (as a database driver or JSON parser hands them over) to a typed Series.

    With ``arrow_type`` None the type comes from the values; values that Arrow can't hold in
    one type (a mix of numbers and text, UUIDs ...) stay Python objects rather than being lost.
    """
    try:
        array = pa.array(values, type=arrow_type, from_pandas=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError, OverflowError):
        return pd.Series(list(values), dtype=object)
    if pa.types.is_null(array.type):
        return pd.Series(pd.array([pd.NA] * len(values), dtype=TEXT))
    dtype = pandas_dtype_for(array.type)
    if dtype is None:
        return array.to_pandas()
    return pd.Series(array.to_pandas(types_mapper=lambda _t: dtype))


def unique_names(names: Iterable[object]) -> list[str]:
    """Column names as text: blanks become col_<n> (1-based), repeats get _2, _3 ..."""
    result: list[str] = []
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        text = "" if name is None else str(name).strip()
        base = text or f"col_{position}"
        candidate, suffix = base, 2
        while candidate in seen:
            candidate, suffix = f"{base}_{suffix}", suffix + 1
        seen.add(candidate)
        result.append(candidate)
    return result


def rebatch(batches: Iterable[pa.RecordBatch], chunk_size: int) -> Iterator[pa.Table]:
    """Regroups Arrow batches of any size into tables of exactly ``chunk_size`` rows (the last: fewer)."""
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        pending_rows += batch.num_rows
        while pending_rows >= chunk_size:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, chunk_size)
            rest = table.slice(chunk_size)
            pending = rest.to_batches()
            pending_rows = rest.num_rows
    if pending_rows:
        yield pa.Table.from_batches(pending)
