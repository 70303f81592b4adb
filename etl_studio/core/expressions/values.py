"""Typed column values while an expression runs: the kinds, the frame of rows, and the implicit conversions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl_studio.core import casting
from etl_studio.core.types import MAX_DECIMAL_PRECISION

Kind = Literal["int", "decimal", "float", "bool", "text", "date", "timestamp", "interval", "null"]
NUMERIC: tuple[Kind, ...] = ("int", "decimal", "float")
TEXT_DTYPE = pd.StringDtype("pyarrow")
DATE_DTYPE = pd.ArrowDtype(pa.date32())
TIMESTAMP_DTYPE = np.dtype("datetime64[us]")


class EvalTypeError(Exception):
    """An operation that makes no sense for the column types found (e.g. a date times a number)."""


@dataclass(frozen=True)
class Value:
    """One computed column over the rows of a frame; ``label`` names a source column for row messages."""

    series: pd.Series
    kind: Kind
    label: str | None = None
    interval: pd.DateOffset | pd.Timedelta | None = None  # only for kind "interval"


@dataclass
class RunState:
    """What one evaluate() call shares: the data, params, one error slot per row, and 'now'."""

    df: pd.DataFrame
    params: Mapping[str, Any]
    errors: np.ndarray
    now: dt.datetime
    columns: dict[str, Value] = field(default_factory=dict)
    failed: bool = False  # some row has a reason (saves testing every slot of a clean chunk)

    def fail(self, positions: np.ndarray, reasons: list[str] | str) -> None:
        """Record a reason for rows that failed; the first reason of a row is the one kept."""
        if isinstance(reasons, str):
            reasons = [reasons] * len(positions)
        for pos, reason in zip(positions.tolist(), reasons, strict=True):
            if self.errors[pos] is None:
                self.errors[pos] = reason
                self.failed = self.failed or reason is not None


@dataclass(frozen=True)
class Frame:
    """The rows an expression part is evaluated on: all rows, or the rows a CASE branch picked."""

    index: pd.Index
    run: RunState

    def subset(self, mask: pd.Series) -> Frame:
        return Frame(self.index[mask.to_numpy(dtype=bool, na_value=False)], self.run)

    def single(self) -> Frame:
        """One row, for parts that hold no column (patterns, digits): evaluated once, not per row."""
        return Frame(pd.RangeIndex(1), self.run)

    def column(self, name: str) -> Value:
        full = self.run.columns.get(name)
        if full is None:
            full = column_value(self.run.df[name], name)
            self.run.columns[name] = full
        if len(self.index) == len(self.run.df):
            return full
        return Value(full.series.iloc[self.index.to_numpy()], full.kind, full.label)

    def fail(self, mask: pd.Series | np.ndarray, reasons: list[str] | str) -> None:
        flags = mask.to_numpy(dtype=bool, na_value=False) if isinstance(mask, pd.Series) else mask
        self.run.fail(np.asarray(self.index[flags]), reasons)


# ---------------------------------------------------------------- building values


def from_arrow(arr: pa.Array | pa.ChunkedArray, kind: Kind, index: pd.Index, label: str | None = None) -> Value:
    """An Arrow result as a Value with the kind's pandas dtype."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if kind == "decimal":
        series = pd.Series(pd.arrays.ArrowExtensionArray(arr), index=index, copy=False)
    elif kind == "date":
        series = pd.Series(pd.arrays.ArrowExtensionArray(pc.cast(arr, pa.date32())), index=index, copy=False)
    elif kind == "timestamp":
        series = pd.Series(pc.cast(arr, pa.timestamp("us")).to_pandas().array, index=index).astype(TIMESTAMP_DTYPE)
    elif kind == "text":
        # .array: a Series built from another Series would realign on its index, not take its values
        series = pd.Series(pc.cast(arr, pa.string()).to_pandas(types_mapper={pa.string(): TEXT_DTYPE}.get).array, index=index, dtype=TEXT_DTYPE)
    else:
        target = {"int": "Int64", "float": "Float64", "bool": "boolean", "null": "Int64"}[kind]
        if arr.type == pa.null():
            series = pd.Series([pd.NA] * len(arr), index=index, dtype=target)
        else:
            mapper = {pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype(), pa.bool_(): pd.BooleanDtype()}.get
            series = pd.Series(arr.to_pandas(types_mapper=mapper).array, index=index).astype(target)
    return Value(series, kind, label)


def arrow(value: Value) -> pa.Array:
    return casting.to_arrow(value.series)


def nulls(kind: Kind, index: pd.Index) -> Value:
    if kind in ("null", "interval"):
        kind = "null"
    return from_arrow(pa.nulls(len(index), _ARROW_OF[kind]), kind, index)


_ARROW_OF: dict[str, pa.DataType] = {
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "text": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "decimal": pa.decimal128(1, 0),
    "null": pa.null(),
}


def constant(python_value: Any, index: pd.Index) -> Value:
    """A literal or parameter value, repeated for every row."""
    kind, scalar = _scalar(python_value)
    n = len(index)
    if kind == "null":
        return Value(pd.Series([pd.NA] * n, index=index, dtype="Int64"), "null")
    return from_arrow(pa.repeat(scalar, n) if n else pa.array([], scalar.type), kind, index)


def _scalar(v: Any) -> tuple[Kind, pa.Scalar | None]:
    if v is None or v is pd.NA or v is pd.NaT:
        return "null", None
    if isinstance(v, bool | np.bool_):
        return "bool", pa.scalar(bool(v))
    if isinstance(v, int | np.integer):
        if -(2**63) <= int(v) < 2**63:
            return "int", pa.scalar(int(v), pa.int64())
        v = Decimal(int(v))
    if isinstance(v, Decimal):
        parsed = casting.parse_numbers(pa.array([format(v, "f")]))
        if pa.types.is_integer(parsed.values.type):
            return "decimal", pc.cast(parsed.values, pa.decimal128(19, 0))[0]
        return "decimal", parsed.values[0]
    if isinstance(v, float | np.floating):
        return "float", pa.scalar(float(v), pa.float64())
    if isinstance(v, str):
        return "text", pa.scalar(v, pa.string())
    if isinstance(v, pd.Timestamp | dt.datetime):
        stamp = pd.Timestamp(v)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert(None)
        return "timestamp", pa.scalar(stamp.to_pydatetime(), pa.timestamp("us"))
    if isinstance(v, dt.date):
        return "date", pa.scalar(v, pa.date32())
    raise EvalTypeError(f"a value of type {type(v).__name__} cannot be used in an expression")


def column_value(s: pd.Series, label: str | None) -> Value:
    """A source column with its kind, in a NULL-safe dtype (NaN in float columns is NULL)."""
    index = s.index
    if casting.is_text(s):
        return Value(s.astype(TEXT_DTYPE), "text", label)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return Value(s.dt.tz_convert(None).astype(TIMESTAMP_DTYPE), "timestamp", label)
    if s.dtype.kind == "M":
        return Value(s.astype(TIMESTAMP_DTYPE), "timestamp", label)
    if s.dtype == object:
        return _object_column(s, label)
    arr = casting.to_arrow(s)
    t = arr.type
    if pa.types.is_boolean(t):
        return from_arrow(arr, "bool", index, label)
    if pa.types.is_integer(t):
        if t == pa.uint64():
            return from_arrow(pc.cast(arr, pa.decimal128(20, 0)), "decimal", index, label)
        return from_arrow(pc.cast(arr, pa.int64()), "int", index, label)
    if pa.types.is_floating(t):
        return from_arrow(pc.cast(arr, pa.float64()), "float", index, label)
    if pa.types.is_decimal(t):
        return from_arrow(arr, "decimal", index, label)
    if pa.types.is_date(t):
        return from_arrow(arr, "date", index, label)
    if pa.types.is_timestamp(t):
        if t.tz is not None:
            arr = pc.cast(arr, pa.timestamp(t.unit))
        return from_arrow(arr, "timestamp", index, label)
    if pa.types.is_null(t):
        return Value(pd.Series([pd.NA] * len(s), index=index, dtype="Int64"), "null", label)
    return from_arrow(casting.text_array(s), "text", index, label)


def _object_column(s: pd.Series, label: str | None) -> Value:
    inferred = pd.api.types.infer_dtype(s, skipna=True)
    values = [None if casting.is_missing(v) else v for v in s.tolist()]
    if inferred == "empty":
        return Value(pd.Series([pd.NA] * len(s), index=s.index, dtype="Int64"), "null", label)
    if inferred == "decimal":
        return _decimals(s, label)
    if inferred == "integer":
        return from_arrow(pa.array(values, pa.int64()), "int", s.index, label)
    if inferred in ("floating", "mixed-integer-float"):
        return from_arrow(pa.array([None if v is None else float(v) for v in values], pa.float64()), "float", s.index, label)
    if inferred == "boolean":
        return from_arrow(pa.array(values, pa.bool_()), "bool", s.index, label)
    if inferred == "date":
        return from_arrow(pa.array(values, pa.date32()), "date", s.index, label)
    if inferred in ("datetime", "datetime64"):
        return Value(pd.to_datetime(pd.Series(values, index=s.index)).astype(TIMESTAMP_DTYPE), "timestamp", label)
    return from_arrow(casting.text_array(s), "text", s.index, label)


def _decimals(s: pd.Series, label: str | None) -> Value:
    parsed = casting.parse_numbers(casting.text_array(s)).values
    if pa.types.is_integer(parsed.type):
        parsed = pc.cast(parsed, pa.decimal128(19, 0))
    return from_arrow(parsed, "decimal", s.index, label)


# ---------------------------------------------------------------- implicit conversions


def _where(value: Value) -> str:
    return f" in {value.label}" if value.label else ""


def to_number(value: Value, frame: Frame) -> Value:
    """Numbers as they are; text read as Int64 or an exact decimal, unreadable cells NULL with a row error."""
    if value.kind in NUMERIC:
        return value
    if value.kind == "null":
        return Value(value.series.astype("Int64"), "int", value.label)
    if value.kind != "text":
        raise EvalTypeError(f"{_kind_name(value)} cannot be used as a number")
    parsed = casting.parse_numbers(arrow(value))
    if parsed.bad.any():
        originals = value.series.to_numpy()[parsed.bad]
        frame.fail(parsed.bad, [f"cannot read '{v}'{_where(value)} as a number" for v in originals])
    kind: Kind = "int" if pa.types.is_integer(parsed.values.type) else "decimal"
    return from_arrow(parsed.values, kind, value.series.index, value.label)


def to_bool(value: Value, frame: Frame) -> Value:
    if value.kind == "bool":
        return value
    if value.kind == "null":
        return Value(value.series.astype("boolean"), "bool")
    if value.kind != "text":
        raise EvalTypeError(f"{_kind_name(value)} cannot be used as true/false")
    arr, bad, _ = casting._to_boolean(value.series, None)  # noqa: SLF001 - same word list as the mapping
    if bad.any():
        originals = value.series.to_numpy()[bad]
        frame.fail(bad, [f"cannot read '{v}'{_where(value)} as true/false" for v in originals])
    return from_arrow(arr, "bool", value.series.index, value.label)


def to_text(value: Value) -> Value:
    if value.kind == "text":
        return value
    if value.kind == "interval":
        raise EvalTypeError("an interval cannot be used as text")
    if value.kind == "null":
        return Value(pd.Series([pd.NA] * len(value.series), index=value.series.index, dtype=TEXT_DTYPE), "text")
    return from_arrow(casting.text_array(value.series), "text", value.series.index, value.label)


def to_timestamp(value: Value, frame: Frame) -> Value:
    if value.kind == "timestamp":
        return value
    if value.kind == "date":
        return from_arrow(pc.cast(arrow(value), pa.timestamp("us")), "timestamp", value.series.index, value.label)
    return _read_moment(value, frame, "timestamp")


def to_date(value: Value, frame: Frame) -> Value:
    if value.kind == "date":
        return value
    if value.kind == "timestamp":
        return from_arrow(pc.cast(arrow(value), pa.date32(), safe=False), "date", value.series.index, value.label)
    return _read_moment(value, frame, "date")


def _read_moment(value: Value, frame: Frame, kind: Kind) -> Value:
    if value.kind == "null":
        return nulls(kind, value.series.index)
    if value.kind != "text":
        raise EvalTypeError(f"{_kind_name(value)} cannot be used as a {kind}")
    parsed, bad = casting.read_datetimes(arrow(value))
    if bad.any():
        originals = value.series.to_numpy()[bad]
        frame.fail(bad, [f"cannot read '{v}'{_where(value)} as a {kind}" for v in originals])
    stamps = pa.array(parsed.to_numpy(), mask=parsed.isna().to_numpy(), type=pa.timestamp("us"))
    if kind == "date":
        stamps = pc.cast(stamps, pa.date32(), safe=False)
    return from_arrow(stamps, kind, value.series.index, value.label)


def _kind_name(value: Value) -> str:
    what = {"int": "an integer", "decimal": "a decimal", "float": "a float", "bool": "a true/false value",
            "text": "text", "date": "a date", "timestamp": "a timestamp", "interval": "an interval", "null": "NULL"}
    return (value.label + f" ({what[value.kind]})") if value.label else what[value.kind]


def kind_name(value: Value) -> str:
    return _kind_name(value)


def tighten_decimal(arr: pa.Array) -> pa.Array:
    """The same decimals in the narrowest precision that holds them, to leave room for the next operation."""
    t = arr.type
    if not pa.types.is_decimal(t):
        return arr
    biggest = casting.largest_magnitude(arr)
    whole = len(str(int(abs(biggest)))) if biggest else 1
    precision = max(whole + t.scale, 1)
    kind = pa.decimal128 if precision <= MAX_DECIMAL_PRECISION else pa.decimal256
    if precision == t.precision and isinstance(t, pa.Decimal128Type) == (kind is pa.decimal128):
        return arr
    return pc.cast(arr, kind(precision, t.scale))
