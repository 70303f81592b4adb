"""Turns a cast chunk (pandas) into a pyarrow Table with the mapping's exact column types, for every loader."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl_studio.core.errors import DataError
from etl_studio.core.project.models import TargetColumn
from etl_studio.core.types import DataType, parse_type


def arrow_type(dtype: DataType) -> pa.DataType:
    """The Arrow type that holds a value of ``dtype`` without loss (decimals stay exact)."""
    if dtype.name == "string":
        return pa.string()
    if dtype.name == "integer":
        return pa.int64()
    if dtype.name == "decimal":
        return pa.decimal128(dtype.precision or 18, dtype.scale or 0)
    if dtype.name == "float":
        return pa.float64()
    if dtype.name == "boolean":
        return pa.bool_()
    if dtype.name == "date":
        return pa.date32()
    return pa.timestamp("us")


def arrow_schema(columns: list[TargetColumn]) -> pa.Schema:
    # Every field nullable: NULL checks belong to the quality rules and the database, and a
    # schema that differs between chunks would break a streamed Parquet file.
    return pa.schema([pa.field(c.name, arrow_type(parse_type(c.type))) for c in columns])


def _column_to_arrow(series: pd.Series, target: pa.DataType, name: str) -> pa.Array | pa.ChunkedArray:
    try:
        if series.dtype == object:
            # Plain object columns (simple test frames, Decimal/date objects) convert best
            # when Arrow is told the type up front.
            try:
                return pa.array(series, type=target, from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
                pass
        array = pa.array(series, from_pandas=True)
        if array.type.equals(target):
            return array
        # Timestamps may carry nanoseconds or a time zone: truncating to microseconds
        # (and to UTC wall time) is what the target column can hold; every other cast
        # must be exact.
        safe = not pa.types.is_timestamp(target)
        if pa.types.is_timestamp(array.type) and array.type.tz is not None:
            array = pc.cast(array, pa.timestamp(array.type.unit))
        if pa.types.is_decimal(target) and pa.types.is_integer(array.type):
            # Arrow refuses int64 -> decimal(p<19) outright; going through the widest
            # decimal keeps the cast exact and still checks each value fits.
            array = pc.cast(array, pa.decimal128(38, target.scale))
        return pc.cast(array, target, safe=safe)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"column {name}: cannot load values as {target}: {first}") from None


def chunk_to_arrow(chunk: pd.DataFrame, columns: list[TargetColumn], *, field_names: list[str] | None = None) -> pa.Table:
    """The chunk's mapped columns, in mapping order, converted to the mapping's Arrow types.

    ``field_names`` renames the fields (loaders use neutral names such as ``c0`` so that odd
    column names never matter to Arrow).
    """
    missing = [c.name for c in columns if c.name not in chunk.columns]
    if missing:
        raise DataError(f"the data has no column {', '.join(missing)} (expected the mapping's target columns)")
    names = field_names or [c.name for c in columns]
    arrays = []
    for column in columns:
        series = chunk[column.name]
        if isinstance(series, pd.DataFrame):
            raise DataError(f"the data has column {column.name} more than once")
        arrays.append(_column_to_arrow(series, arrow_type(parse_type(column.type)), column.name))
    return pa.table(arrays, names=names)
