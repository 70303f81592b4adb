"""The built-in functions (text, numbers, dates, CAST): vectorised over Arrow/pandas columns, SQL NULL rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from etl_studio.core import casting
from etl_studio.core.expressions.values import (
    EvalTypeError,
    Frame,
    Kind,
    Value,
    arrow,
    constant,
    from_arrow,
    kind_name,
    nulls,
    tighten_decimal,
    to_bool,
    to_date,
    to_number,
    to_text,
    to_timestamp,
)
from etl_studio.core.types import MAX_DECIMAL_PRECISION, DataType

Impl = Callable[..., Value]


@dataclass(frozen=True)
class FunctionSpec:
    """How a sqlglot function node maps to our implementation; ``constant`` args may not hold columns."""

    names: tuple[str, ...]
    args: tuple[str, ...]
    required: int
    impl: Impl
    constant: frozenset[str] = frozenset()


# ---------------------------------------------------------------- text


def _text_op(func: Callable[[pa.Array], pa.Array], kind: Kind = "text") -> Impl:
    def impl(frame: Frame, node: exp.Expression, this: Value) -> Value:
        text = to_text(this)
        return from_arrow(pc.cast(func(arrow(text)), pa.int64()) if kind == "int" else func(arrow(text)), kind, text.series.index)

    return impl


def _trim(frame: Frame, node: exp.Expression, this: Value, expression: Any = " ") -> Value:
    # PostgreSQL's trim removes spaces only (not tabs or newlines) unless told which characters
    chars = " " if expression is None else str(expression)
    position = str(node.args.get("position") or "BOTH").upper()
    func = {"LEADING": pc.utf8_ltrim, "TRAILING": pc.utf8_rtrim}.get(position, pc.utf8_trim)
    text = to_text(this)
    return from_arrow(func(arrow(text), characters=chars), "text", text.series.index)


def _substring(frame: Frame, node: exp.Expression, this: Value, start: Value, length: Value | None = None) -> Value:
    text = to_text(this)
    index = text.series.index
    starts = to_number(start, frame).series
    lengths = to_number(length, frame).series if length is not None else pd.Series(-1, index=index, dtype="Int64")
    if (lengths.dropna() < 0).any() and length is not None:
        negative = lengths.lt(0).fillna(False)
        frame.fail(negative, "negative substring length")
        lengths = lengths.mask(negative)
    result = pd.Series(pd.NA, index=index, dtype=text.series.dtype)
    known = starts.notna() & lengths.notna() & text.series.notna()
    if not known.any():
        return Value(result, "text")
    # one Arrow slice per distinct (start, length): almost always one pair, never one per row
    pairs = pd.DataFrame({"s": starts[known].astype("int64"), "l": lengths[known].astype("int64")})
    arr = arrow(text)
    for (first, count), rows in pairs.groupby(["s", "l"]).groups.items():
        begin = max(first, 1) - 1
        stop = None if length is None else max(first - 1 + count, begin)
        positions = index.get_indexer(rows)
        picked = arr.take(pa.array(positions))
        sliced = pc.utf8_slice_codeunits(picked, start=begin, stop=stop) if stop is not None else pc.utf8_slice_codeunits(picked, start=begin)
        result.iloc[positions] = sliced.to_pylist()
    return Value(result, "text")


def _replace(frame: Frame, node: exp.Expression, this: Value, expression: Any, replacement: Any) -> Value:
    text = to_text(this)
    if expression is None or replacement is None:
        return nulls("text", text.series.index)
    if expression == "":
        return text
    return from_arrow(pc.replace_substring(arrow(text), pattern=str(expression), replacement=str(replacement)), "text", text.series.index)


def _regexp_like(frame: Frame, node: exp.Expression, this: Value, expression: Any) -> Value:
    text = to_text(this)
    if expression is None:
        return nulls("bool", text.series.index)
    return from_arrow(pc.match_substring_regex(arrow(text), pattern=str(expression)), "bool", text.series.index)


def _regexp_replace(frame: Frame, node: exp.Expression, this: Value, expression: Any, replacement: Any) -> Value:
    text = to_text(this)
    if expression is None or replacement is None:
        return nulls("text", text.series.index)
    replaced = pc.replace_substring_regex(arrow(text), pattern=str(expression), replacement=str(replacement))
    return from_arrow(replaced, "text", text.series.index)


def concat(frame: Frame, values: list[Value]) -> Value:
    """PostgreSQL concat(): NULL arguments are skipped, so the result is never NULL."""
    texts = [arrow(to_text(v)) for v in values]
    joined = pc.binary_join_element_wise(*texts, "", null_handling="replace", null_replacement="")
    return from_arrow(joined, "text", frame.index)


def pipe(left: Value, right: Value) -> Value:
    """``a || b``: NULL if either side is NULL."""
    a, b = to_text(left), to_text(right)
    return from_arrow(pc.binary_join_element_wise(arrow(a), arrow(b), ""), "text", a.series.index)


# ---------------------------------------------------------------- numbers


def _round(frame: Frame, node: exp.Expression, this: Value, decimals: Any = 0) -> Value:
    number = to_number(this, frame)
    index = number.series.index
    if decimals is None:
        return nulls(number.kind, index)
    digits = int(decimals)
    arr = arrow(number)
    if number.kind == "int":
        if digits >= 0:
            return number
        arr = pc.cast(arr, pa.decimal128(19, 0))
        rounded = pc.round(arr, ndigits=digits, round_mode="half_towards_infinity")
        return from_arrow(pc.cast(rounded, pa.int64()), "int", index)
    rounded = pc.round(arr, ndigits=digits, round_mode="half_towards_infinity")
    if number.kind == "float":
        return from_arrow(rounded, "float", index)
    scale = max(digits, 0)
    t = rounded.type
    precision = min(t.precision - t.scale + scale + 1, MAX_DECIMAL_PRECISION if t.precision <= MAX_DECIMAL_PRECISION else 76)
    kind = pa.decimal128 if precision <= MAX_DECIMAL_PRECISION else pa.decimal256
    return from_arrow(tighten_decimal(pc.cast(rounded, kind(max(precision, 1), scale))), "decimal", index)


def _whole(func: Callable[[pa.Array], pa.Array]) -> Impl:
    def impl(frame: Frame, node: exp.Expression, this: Value) -> Value:
        number = to_number(this, frame)
        arr = arrow(number)
        if number.kind == "int":
            return number
        result = func(arr)
        if number.kind == "decimal":
            t = arr.type
            kind = pa.decimal128 if t.precision - t.scale + 1 <= MAX_DECIMAL_PRECISION else pa.decimal256
            result = tighten_decimal(pc.cast(result, kind(max(t.precision - t.scale + 1, 1), 0)))
        return from_arrow(result, number.kind, number.series.index)

    return impl


def _abs(frame: Frame, node: exp.Expression, this: Value) -> Value:
    number = to_number(this, frame)
    arr = arrow(number)
    return from_arrow(pc.abs(arr) if number.kind != "int" else pc.abs_checked(arr), number.kind, number.series.index)


def _nullif(frame: Frame, node: exp.Expression, this: Value, expression: Value) -> Value:
    from etl_studio.core.expressions.operators import compare  # a cycle only at import time

    same = compare("=", this, expression, frame).series.fillna(False).to_numpy(dtype=bool)
    if not same.any():
        return this
    if this.kind == "null":
        return this
    return Value(this.series.mask(pd.Series(same, index=this.series.index)), this.kind)


# ---------------------------------------------------------------- dates

_PARTS: dict[str, Callable[[pa.Array], pa.Array]] = {
    "YEAR": pc.year,
    "MONTH": pc.month,
    "DAY": pc.day,
    "HOUR": pc.hour,
    "MINUTE": pc.minute,
    "SECOND": pc.second,
    "QUARTER": pc.quarter,
    "WEEK": pc.iso_week,
    "DOY": pc.day_of_year,
    "DOW": lambda a: pc.day_of_week(a, count_from_zero=True, week_start=7),  # PostgreSQL: Sunday is 0
    "ISODOW": lambda a: pc.day_of_week(a, count_from_zero=False, week_start=1),
}
DATE_PARTS: tuple[str, ...] = tuple(p.lower() for p in _PARTS)


def date_part(part: str, value: Value, frame: Frame) -> Value:
    if value.kind in ("date", "timestamp"):
        moment = value
    elif part in ("HOUR", "MINUTE", "SECOND"):
        moment = to_timestamp(value, frame)
    else:
        moment = to_timestamp(value, frame) if value.kind == "text" else to_date(value, frame)
    if moment.kind == "date" and part in ("HOUR", "MINUTE", "SECOND"):
        moment = to_timestamp(moment, frame)
    return from_arrow(pc.cast(_PARTS[part](arrow(moment)), pa.int64()), "int", moment.series.index)


def _part(part: str) -> Impl:
    return lambda frame, node, this: date_part(part, this, frame)


def _current_date(frame: Frame, node: exp.Expression) -> Value:
    return constant(frame.run.now.date(), frame.index)


def _current_timestamp(frame: Frame, node: exp.Expression) -> Value:
    return constant(frame.run.now, frame.index)


# ---------------------------------------------------------------- CAST

_TYPE_KINDS: dict[str, Kind] = {
    "TEXT": "text", "VARCHAR": "text", "CHAR": "text", "NCHAR": "text", "NVARCHAR": "text", "BPCHAR": "text", "NAME": "text",
    "INT": "int", "BIGINT": "int", "SMALLINT": "int", "TINYINT": "int", "MEDIUMINT": "int",
    "DECIMAL": "decimal", "BIGDECIMAL": "decimal",
    "DOUBLE": "float", "FLOAT": "float",
    "BOOLEAN": "bool",
    "DATE": "date",
    "TIMESTAMP": "timestamp", "DATETIME": "timestamp", "TIMESTAMPNTZ": "timestamp",
}


@dataclass(frozen=True)
class CastTarget:
    kind: Kind
    precision: int | None = None
    scale: int | None = None

    def __str__(self) -> str:
        if self.kind == "decimal" and self.precision is not None:
            return f"numeric({self.precision},{self.scale or 0})"
        return {"int": "integer", "float": "double precision", "bool": "boolean"}.get(self.kind, self.kind)


def cast_target(to: exp.DataType) -> CastTarget | None:
    """The kind a CAST asks for, or None for a type we do not support."""
    kind = _TYPE_KINDS.get(to.this.name if hasattr(to.this, "name") else str(to.this))
    if kind is None:
        return None
    if kind == "decimal" and to.expressions:
        numbers = [int(p.this.name) for p in to.expressions if isinstance(p.this, exp.Literal)]
        if numbers and 1 <= numbers[0] <= MAX_DECIMAL_PRECISION:
            scale = numbers[1] if len(numbers) > 1 else 0
            if scale <= numbers[0]:
                return CastTarget("decimal", numbers[0], scale)
        return None
    return CastTarget(kind)


def cast(value: Value, target: CastTarget, frame: Frame) -> Value:
    index = value.series.index
    if value.kind == "null":
        return nulls(target.kind, index)
    if target.kind == "text":
        return to_text(value)
    if target.kind == "bool":
        if value.kind == "int":
            return from_arrow(pc.not_equal(arrow(value), 0), "bool", index)
        return to_bool(value, frame)
    if target.kind == "date":
        return to_date(value, frame)
    if target.kind == "timestamp":
        return to_timestamp(value, frame)
    if value.kind == "bool" and target.kind == "int":
        return from_arrow(pc.cast(arrow(value), pa.int64()), "int", index)
    number = to_number(value, frame)
    arr = arrow(number)
    if target.kind == "float":
        from etl_studio.core.expressions.operators import to_float  # a cycle only at import time

        return from_arrow(to_float(arr), "float", index)
    if target.kind == "int":
        return _to_int(number, frame)
    if target.precision is None:
        decimals = casting.floats_to_decimal(arr, 0) if number.kind == "float" else arr
        if pa.types.is_integer(decimals.type):
            decimals = pc.cast(decimals, pa.decimal128(19, 0))
        return from_arrow(tighten_decimal(decimals), "decimal", index)
    fitted, over = casting.fit_decimal(arr, target.precision, target.scale or 0)
    if over.any():
        shown = [casting.render_value(v) for v in number.series.to_numpy()[over]]
        frame.fail(over, [f"{v} does not fit {target}" for v in shown])
    return from_arrow(fitted, "decimal", index)


def _to_int(number: Value, frame: Frame) -> Value:
    # PostgreSQL rounds numeric -> integer half away from zero (2.5 -> 3)
    index = number.series.index
    if number.kind == "int":
        return number
    fitted, over = casting.fit_decimal(arrow(number), 38, 0)
    bounds = pa.decimal128(38, 0)
    outside = pc.fill_null(
        pc.or_(pc.less(fitted, pa.scalar(Decimal(-(2**63)), bounds)), pc.greater(fitted, pa.scalar(Decimal(2**63 - 1), bounds))),
        False,
    ).to_numpy(zero_copy_only=False) | over
    if outside.any():
        frame.fail(outside, "integer out of range")
        fitted = pc.if_else(pa.array(outside), pa.scalar(None, bounds), fitted)
    return from_arrow(pc.cast(fitted, pa.int64()), "int", index)


# ---------------------------------------------------------------- the table

FUNCTIONS: dict[type[exp.Expression], FunctionSpec] = {
    exp.Lower: FunctionSpec(("lower",), ("this",), 1, _text_op(pc.utf8_lower)),
    exp.Upper: FunctionSpec(("upper",), ("this",), 1, _text_op(pc.utf8_upper)),
    exp.Trim: FunctionSpec(("trim", "ltrim", "rtrim", "btrim"), ("this", "expression"), 1, _trim, frozenset({"expression"})),
    exp.Length: FunctionSpec(("length", "char_length"), ("this",), 1, _text_op(pc.utf8_length, "int")),
    exp.Substring: FunctionSpec(("substring", "substr"), ("this", "start", "length"), 2, _substring),
    exp.Replace: FunctionSpec(("replace",), ("this", "expression", "replacement"), 3, _replace, frozenset({"expression", "replacement"})),
    exp.RegexpLike: FunctionSpec(("regexp_like",), ("this", "expression"), 2, _regexp_like, frozenset({"expression"})),
    exp.RegexpReplace: FunctionSpec(("regexp_replace",), ("this", "expression", "replacement"), 3, _regexp_replace, frozenset({"expression", "replacement"})),
    exp.Round: FunctionSpec(("round",), ("this", "decimals"), 1, _round, frozenset({"decimals"})),
    exp.Abs: FunctionSpec(("abs",), ("this",), 1, _abs),
    exp.Floor: FunctionSpec(("floor",), ("this",), 1, _whole(pc.floor)),
    exp.Ceil: FunctionSpec(("ceil", "ceiling"), ("this",), 1, _whole(pc.ceil)),
    exp.Nullif: FunctionSpec(("nullif",), ("this", "expression"), 2, _nullif),
    exp.Year: FunctionSpec(("year",), ("this",), 1, _part("YEAR")),
    exp.Month: FunctionSpec(("month",), ("this",), 1, _part("MONTH")),
    exp.Day: FunctionSpec(("day",), ("this",), 1, _part("DAY")),
    exp.CurrentDate: FunctionSpec(("current_date",), (), 0, _current_date),
    exp.CurrentTimestamp: FunctionSpec(("current_timestamp", "now"), (), 0, _current_timestamp),
}

# Handled by the compiler itself (lazy or variadic), listed here for completion and suggestions.
SPECIAL_FUNCTIONS = ("coalesce", "concat", "cast", "extract")

FUNCTION_NAMES: tuple[str, ...] = tuple(sorted({n for spec in FUNCTIONS.values() for n in spec.names} | set(SPECIAL_FUNCTIONS)))


def python_value(value: Value) -> Any:
    """The single value of a constant part (pattern, digits) as a Python object; None for NULL."""
    if value.kind == "interval":
        return value.interval
    first = value.series.iloc[0] if len(value.series) else None
    return None if first is None or first is pd.NA or (isinstance(first, float) and np.isnan(first)) else first


def interval(text: str) -> pd.DateOffset | pd.Timedelta:
    """``'1 day'``, ``'2 hours 30 minutes'``, ``'1 month'`` as something pandas adds to timestamps."""
    import re

    parts = re.findall(r"([+-]?\d+)\s*(year|month|week|day|hour|minute|second)s?\b", text.lower())
    if not parts or re.sub(r"([+-]?\d+)\s*(year|month|week|day|hour|minute|second)s?\b", "", text.lower()).strip():
        raise EvalTypeError(f"cannot read the interval '{text}' (write e.g. '1 day', '2 hours', '1 month')")
    amounts: dict[str, int] = {}
    for number, unit in parts:
        amounts[unit + "s"] = amounts.get(unit + "s", 0) + int(number)
    if "years" in amounts or "months" in amounts:
        return pd.DateOffset(**amounts)
    return pd.Timedelta(**amounts)


def interval_value(offset: pd.DateOffset | pd.Timedelta, index: pd.Index) -> Value:
    return Value(pd.Series(pd.NA, index=index, dtype="Int64"), "interval", interval=offset)


__all__ = ["FUNCTIONS", "FUNCTION_NAMES", "DATE_PARTS", "FunctionSpec", "cast", "cast_target", "concat", "date_part", "pipe", "kind_name"]
