"""Arithmetic and comparison with SQL semantics: exact decimals, truncating integer division, NULL in -> NULL out."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl_studio.core.expressions.values import (
    NUMERIC,
    EvalTypeError,
    Frame,
    Kind,
    Value,
    arrow,
    from_arrow,
    kind_name,
    nulls,
    tighten_decimal,
    to_bool,
    to_date,
    to_number,
    to_timestamp,
)
from etl_studio.core.types import MAX_DECIMAL_PRECISION

# PostgreSQL gives a numeric quotient at least 16 significant digits; 20 decimal places keeps
# a later rounding to the target scale a single rounding for every scale an analyst uses.
_QUOTIENT_SCALE = 20
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_CHECKED = {"+": pc.add_checked, "-": pc.subtract_checked, "*": pc.multiply_checked}


def unify_numbers(a: pa.Array, b: pa.Array) -> tuple[pa.Array, pa.Array, Kind]:
    """Both sides in one numeric kind: float wins over decimal, decimal over integer (as in PostgreSQL)."""
    if pa.types.is_floating(a.type) or pa.types.is_floating(b.type):
        return to_float(a), to_float(b), "float"
    if pa.types.is_decimal(a.type) or pa.types.is_decimal(b.type):
        return _as_decimal(a), _as_decimal(b), "decimal"
    return a, b, "int"


def to_float(arr: pa.Array) -> pa.Array:
    """Numbers as float64; decimals go through their text, as Arrow's direct cast is not correctly rounded."""
    if pa.types.is_decimal(arr.type):
        return pc.cast(pc.cast(arr, pa.string()), pa.float64())
    return pc.cast(arr, pa.float64())


def _as_decimal(arr: pa.Array) -> pa.Array:
    if pa.types.is_integer(arr.type):
        arr = pc.cast(arr, pa.decimal128(19, 0))
    return tighten_decimal(arr)


def _widen(arr: pa.Array) -> pa.Array:
    t = arr.type
    return pc.cast(arr, pa.decimal256(max(t.precision, 1), t.scale)) if isinstance(t, pa.Decimal128Type) else arr


def _decimal_op(func: Callable[[pa.Array, pa.Array], pa.Array], a: pa.Array, b: pa.Array) -> pa.Array:
    try:
        return func(a, b)
    except pa.ArrowInvalid:
        # the result type would need more than 38 digits; the 76-digit decimal holds it exactly
        return tighten_decimal(func(_widen(a), _widen(b)))


def arithmetic(op: str, left: Value, right: Value, frame: Frame) -> Value:
    """``left op right`` for op in + - * / %."""
    if left.kind in ("date", "timestamp", "interval") or right.kind in ("date", "timestamp", "interval"):
        return _moment_arithmetic(op, left, right, frame)
    if left.kind == "null" and right.kind == "null":
        return nulls("int", frame.index)
    left, right = to_number(left, frame), to_number(right, frame)
    a, b, kind = unify_numbers(arrow(left), arrow(right))
    index = left.series.index
    if op in ("/", "%"):
        zero_value = pa.scalar(Decimal(0), pa.decimal128(1, 0)) if pa.types.is_decimal(b.type) else pa.scalar(0, b.type)
        # a NULL dividend gives NULL without looking at the divisor (the operator is strict)
        zero = pc.and_(pc.fill_null(pc.equal(b, zero_value), False), pc.is_valid(a))
        if pc.any(zero).as_py():
            frame.fail(zero.to_numpy(zero_copy_only=False), "division by zero")
            b = pc.if_else(zero, pa.scalar(None, b.type), b)
    if kind == "float":
        result = _float_op(op, a, b)
    elif kind == "int":
        result, kind = _int_op(op, a, b, frame, index)
    else:
        result = _decimal_arith(op, a, b)
    return from_arrow(result, kind, index)


def _float_op(op: str, a: pa.Array, b: pa.Array) -> pa.Array:
    if op == "%":
        with np.errstate(all="ignore"):
            values = np.fmod(a.to_numpy(zero_copy_only=False), b.to_numpy(zero_copy_only=False))
        return pa.array(values, mask=pc.or_(pc.is_null(a), pc.is_null(b)).to_numpy(zero_copy_only=False))
    return {"+": pc.add, "-": pc.subtract, "*": pc.multiply, "/": pc.divide}[op](a, b)


def _int_op(op: str, a: pa.Array, b: pa.Array, frame: Frame, index: pd.Index) -> tuple[pa.Array, Kind]:
    try:
        if op == "/":
            return pc.divide_checked(a, b), "int"  # Arrow truncates toward zero, as PostgreSQL does
        if op == "%":
            return pc.subtract_checked(a, pc.multiply_checked(pc.divide_checked(a, b), b)), "int"
        return _CHECKED[op](a, b), "int"
    except pa.ArrowInvalid:
        pass
    # bigint overflow: PostgreSQL refuses the row; compute exactly, then refuse what does not fit
    exact = _decimal_arith(op, _as_decimal(a), _as_decimal(b))
    if op == "/":
        exact = pc.trunc(exact)
    limit_type = pa.decimal128(20, 0)
    outside = pc.fill_null(
        pc.or_(
            pc.less(exact, pa.scalar(_INT64_MIN, pa.int64()).cast(limit_type)),
            pc.greater(exact, pa.scalar(_INT64_MAX, pa.int64()).cast(limit_type)),
        ),
        False,
    )
    frame.fail(outside.to_numpy(zero_copy_only=False), "integer out of range")
    exact = pc.if_else(outside, pa.scalar(None, exact.type), exact)
    return pc.cast(pc.cast(exact, pa.decimal128(38, 0), safe=False), pa.int64()), "int"


def _decimal_arith(op: str, a: pa.Array, b: pa.Array) -> pa.Array:
    if op == "+":
        return tighten_decimal(_decimal_op(pc.add, a, b))
    if op == "-":
        return tighten_decimal(_decimal_op(pc.subtract, a, b))
    if op == "*":
        return tighten_decimal(_decimal_op(pc.multiply, a, b))
    quotient = _decimal_divide(a, b)
    if op == "/":
        return quotient
    truncated = pc.cast(pc.trunc(quotient), quotient.type)
    remainder = tighten_decimal(_decimal_op(pc.subtract, a, tighten_decimal(_decimal_op(pc.multiply, b, tighten_decimal(truncated)))))
    # the remainder is exact at the larger input scale, as PostgreSQL shows it (7.5 % 2 = 1.5)
    scale = max(a.type.scale, b.type.scale)
    t = remainder.type
    if t.scale > scale:
        remainder = tighten_decimal(pc.cast(remainder, (pa.decimal128 if isinstance(t, pa.Decimal128Type) else pa.decimal256)(max(t.precision - t.scale + scale, 1), scale)))
    return remainder


def _decimal_divide(a: pa.Array, b: pa.Array) -> pa.Array:
    a, b = tighten_decimal(a), tighten_decimal(b)
    p1, s1, p2, s2 = a.type.precision, a.type.scale, b.type.precision, b.type.scale
    natural = max(4, s1 + p2 - s2 + 1)  # Arrow's quotient scale
    want = max(natural, _QUOTIENT_SCALE, s1, s2)
    whole = p1 - s1 + s2
    limit = MAX_DECIMAL_PRECISION if whole + want <= MAX_DECIMAL_PRECISION else 76
    want = max(natural, min(want, limit - whole))
    extra = max(want - (s1 + p2 - s2 + 1), 0)
    kind = pa.decimal128 if max(p1 + extra, whole + want) <= MAX_DECIMAL_PRECISION else pa.decimal256
    a = pc.cast(a, kind(p1 + extra, s1 + extra))
    if kind is pa.decimal256:
        b = _widen(b)
    return tighten_decimal(pc.divide(a, b))


def negate(value: Value, frame: Frame) -> Value:
    if value.kind == "interval":
        return Value(value.series, "interval", interval=-value.interval)  # type: ignore[operator]
    number = to_number(value, frame)
    arr = arrow(number)
    return from_arrow(pc.negate_checked(arr) if number.kind != "float" else pc.negate(arr), number.kind, number.series.index)


# ---------------------------------------------------------------- dates


def _moment_arithmetic(op: str, left: Value, right: Value, frame: Frame) -> Value:
    index = left.series.index if left.series is not None else right.series.index
    if op == "+" and left.kind in ("int", "interval") and right.kind in ("date", "timestamp", "text"):
        left, right = right, left
    if left.kind == "text":
        left = to_timestamp(left, frame) if right.kind == "interval" else to_date(left, frame)
    if right.kind == "interval" and left.kind in ("date", "timestamp") and op in ("+", "-"):
        stamps = to_timestamp(left, frame).series
        step = right.interval if op == "+" else -right.interval  # type: ignore[operator]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
            moved = stamps + step
        return Value(moved.astype("datetime64[us]"), "timestamp")
    if left.kind == "date" and op in ("+", "-") and right.kind in ("int", "text", "null"):
        days = to_number(right, frame)
        if days.kind != "int":
            raise EvalTypeError(f"a date {op} {kind_name(days)}: only whole days can be added to a date")
        as_days = pc.cast(pc.cast(arrow(left), pa.int32()), pa.int64())
        shifted = (pc.add_checked if op == "+" else pc.subtract_checked)(as_days, arrow(days))
        return from_arrow(pc.cast(pc.cast(shifted, pa.int32()), pa.date32()), "date", index)
    if left.kind == "date" and op == "-" and right.kind == "date":
        days = pc.subtract(pc.cast(pc.cast(arrow(left), pa.int32()), pa.int64()), pc.cast(pc.cast(arrow(right), pa.int32()), pa.int64()))
        return from_arrow(days, "int", index)
    if left.kind in ("date", "timestamp") and op == "-" and right.kind in ("date", "timestamp"):
        raise EvalTypeError("timestamp - timestamp is not supported; subtract dates to get days")
    raise EvalTypeError(f"cannot compute {kind_name(left)} {op} {kind_name(right)}")


# ---------------------------------------------------------------- comparisons

_COMPARE = {"=": pc.equal, "<>": pc.not_equal, "<": pc.less, "<=": pc.less_equal, ">": pc.greater, ">=": pc.greater_equal}


def compare(op: str, left: Value, right: Value, frame: Frame) -> Value:
    """``left op right`` as a three-valued boolean column; text next to a number is read as a number."""
    index = left.series.index
    kinds = {left.kind, right.kind}
    if "null" in kinds:
        return nulls("bool", index)
    if kinds <= {"text"}:
        a, b = arrow(left), arrow(right)
    elif kinds & set(NUMERIC) and kinds <= {*NUMERIC, "text"}:
        a, b, _ = unify_numbers(arrow(to_number(left, frame)), arrow(to_number(right, frame)))
    elif kinds & {"date", "timestamp"} and kinds <= {"date", "timestamp", "text"}:
        if "timestamp" in kinds:
            a, b = arrow(to_timestamp(left, frame)), arrow(to_timestamp(right, frame))
        else:
            a, b = arrow(to_date(left, frame)), arrow(to_date(right, frame))
    elif "bool" in kinds and kinds <= {"bool", "text"}:
        a, b = arrow(to_bool(left, frame)), arrow(to_bool(right, frame))
    else:
        raise EvalTypeError(f"cannot compare {kind_name(left)} with {kind_name(right)}")
    return from_arrow(_COMPARE[op](a, b), "bool", index)
