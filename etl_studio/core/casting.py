"""Cast a column to a declared target type, vectorised, with a reason for every cell that cannot be cast."""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl_studio.core.types import MAX_DECIMAL_PRECISION, DataType

# Arrow's widest decimal; a text value with more digits than this is not a number we can hold exactly.
_MAX_WIDE_PRECISION = 76
_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)$"
_SCIENTIFIC_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$"
_TRUE_WORDS = ("true", "t", "yes", "y", "1")
_FALSE_WORDS = ("false", "f", "no", "n", "0")
_TZ_SUFFIX = r"(Z|[+-]\d\d(:?\d\d)?)$"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def pandas_dtype(t: DataType) -> Any:
    """The pandas dtype that holds values of the target type ``t`` (all NA-backed, none uses NaN for NULL)."""
    if t.name == "string":
        return pd.StringDtype()
    if t.name == "integer":
        return pd.Int64Dtype()
    if t.name == "decimal":
        return pd.ArrowDtype(pa.decimal128(t.precision or 18, t.scale or 0))
    if t.name == "float":
        return pd.Float64Dtype()
    if t.name == "boolean":
        return pd.BooleanDtype()
    if t.name == "date":
        return pd.ArrowDtype(pa.date32())
    if t.name == "datetime":
        return np.dtype("datetime64[us]")
    raise ValueError(f"unknown type {t}")


@dataclass(frozen=True)
class CastResult:
    values: pd.Series
    errors: pd.Series | None


@dataclass(frozen=True)
class ParsedNumbers:
    """Text read as exact numbers: an int64 or decimal array, and which cells were not numbers."""

    values: pa.Array
    bad: np.ndarray  # bool per cell: not empty, not NULL, and not readable as a number


# ---------------------------------------------------------------- kinds of input


def is_text(s: pd.Series) -> bool:
    """True for columns holding text: string dtypes, and object columns whose values are all str."""
    if isinstance(s.dtype, pd.StringDtype):
        return True
    if isinstance(s.dtype, pd.ArrowDtype):
        return pa.types.is_string(s.dtype.pyarrow_dtype) or pa.types.is_large_string(s.dtype.pyarrow_dtype)
    if s.dtype == object:
        return pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty")
    return False


def to_arrow(s: pd.Series) -> pa.Array:
    """The column as one Arrow array with NULLs as nulls (NaN in float columns counts as NULL)."""
    if isinstance(s.dtype, pd.ArrowDtype):
        arr = s.array._pa_array  # noqa: SLF001 - the only zero-copy door pandas offers
        if isinstance(arr, pa.ChunkedArray):
            return one_array(arr)
        return arr
    if is_text(s):
        if not len(s):
            return pa.array([], pa.string())
        if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
            # Stored as large_string: the cast makes new offsets (the characters are shared). The same
            # column asked for again (mapping, then an expression) gets the same array back, so that
            # what was read from it (parse_numbers) is found again.
            stored = s.array._pa_array  # noqa: SLF001
            text = _as_string_cache.get(stored)
            if text is None:
                text = one_array(stored).cast(pa.string())
                _as_string_cache.put(stored, text)
            return text
        return pa.array(s.astype(pd.StringDtype("pyarrow")).array).cast(pa.string())
    if s.dtype.kind == "f":
        return pa.array(s.to_numpy(), mask=s.isna().to_numpy(), type=pa.float64())
    return pa.array(s.array, from_pandas=True)


def stored_text(s: pd.Series) -> pa.Array:
    """A text column's characters as Arrow holds them (string or large_string), without a cast where pandas
    stores Arrow text already; other columns as ``text_array`` renders them. For readers of the bytes
    (hashing) that take either offset width."""
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow" and len(s):
        return one_array(s.array._pa_array)  # noqa: SLF001
    return text_array(s)


def one_array(chunked: pa.ChunkedArray) -> pa.Array:
    """The chunked array as one array: its only chunk itself (combine_chunks copies even that)."""
    return chunked.chunk(0) if chunked.num_chunks == 1 else chunked.combine_chunks()


def text_array(s: pd.Series) -> pa.Array:
    """Any column rendered as text (numbers without float artefacts, booleans as true/false)."""
    if is_text(s):
        return to_arrow(s)
    if s.dtype == object:
        rendered = [None if is_missing(v) else render_value(v) for v in s.tolist()]
        return pa.array(rendered, pa.string())
    arr = to_arrow(s)
    if pa.types.is_timestamp(arr.type):
        if arr.type.tz is not None:
            arr = pc.cast(arr, pa.timestamp(arr.type.unit))
        seconds = pc.cast(arr, pa.timestamp("s"), safe=False)
        text = pc.strftime(seconds, format="%Y-%m-%d %H:%M:%S")
        # PostgreSQL prints fractions of a second only where there are some
        fractional = pc.fill_null(pc.not_equal(pc.cast(seconds, arr.type), arr), False)
        if pc.any(fractional).as_py():
            exact = [v.isoformat(sep=" ") if f else None for v, f in zip(arr.to_pylist(), fractional.to_pylist(), strict=True)]
            text = pc.if_else(fractional, pa.array(exact, pa.string()), text)
        return text
    return pc.cast(arr, pa.string())


def render_value(v: Any) -> str:
    """One value as text, the way PostgreSQL prints it."""
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, float | np.floating):
        return pc.cast(pa.array([float(v)]), pa.string())[0].as_py()
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, pd.Timestamp | dt.datetime):
        return v.isoformat(sep=" ")
    return str(v)


def is_missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float) and math.isnan(v)


# ---------------------------------------------------------------- reading numbers in text


def parse_numbers(text: pa.Array) -> ParsedNumbers:
    """Read text as exact numbers: Int64 when no value has a decimal point, else a decimal just wide enough.

    Empty strings are NULL (a CSV empty field), not errors; surrounding spaces are ignored.
    The same array read twice (a mapped column and an expression over it) is read once.
    """
    cached = _parsed_cache.get(text)
    if cached is not None:
        return cached
    parsed = _parse_plain_numbers(text)
    if parsed is None and text.type == pa.string() and len(text):
        # padded numbers (' 12', '3.50 ') are the next most common: trimmed, they are plain again
        parsed = _parse_plain_numbers(pc.utf8_trim_whitespace(text))
    if parsed is None:
        parsed = _parse_numbers_by_pattern(text)
    parsed.bad.flags.writeable = False  # shared through the cache: callers copy before changing it
    _parsed_cache.put(text, parsed)
    return parsed


# Bytes a column of plain numbers is made of. A column holding nothing else (the common case)
# is read by Arrow's own casts, which accept exactly the plain-number forms ([+-]digits[.digits],
# except '+' on integers, which fails the cast and takes the pattern path); anything else
# (spaces, exponents, hex, words) takes the pattern path below.
_NUMBER_BYTES = np.zeros(256, dtype=bool)
_NUMBER_BYTES[np.frombuffer(b"0123456789+-.", dtype=np.uint8)] = True
_INT18 = 10**18 - 1  # up to 18 digits an integer is int64; more digits go to decimal, as the pattern path does


def _only_number_bytes(text: pa.Array) -> bool:
    """True when the bytes of the non-NULL values are all digits, signs or points (a cheap pre-check)."""
    if text.null_count:
        text = pc.drop_null(text)  # NULL slots may keep bytes of what they were (masked tokens)
    if not len(text):
        return True
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32, count=len(text) + 1, offset=text.offset * 4)
    data = text.buffers()[2]
    if data is None:
        return True
    used = np.frombuffer(data, dtype=np.uint8)[offsets[0]:offsets[-1]]
    return bool(_NUMBER_BYTES[used].all())


def _parse_plain_numbers(text: pa.Array) -> ParsedNumbers | None:
    """The fast path for columns of plain numbers (and empty strings); None sends the column to the pattern path."""
    if text.type != pa.string() or not len(text) or text.null_count == len(text) or not _only_number_bytes(text):
        return None
    empty = pc.equal(pc.binary_length(text), 0)
    if pc.any(empty).as_py():
        text = pc.if_else(empty, pa.scalar(None, pa.string()), text)
        if text.null_count == len(text):
            return None
    bad = np.zeros(len(text), dtype=bool)
    if not pc.any(pc.greater_equal(pc.find_substring(text, "."), 0)).as_py():
        try:
            ints = pc.cast(text, pa.int64())
        except pa.ArrowInvalid:
            return None  # '+5', a lone '-', or more than int64 holds
        low_high = pc.min_max(ints)
        if -_INT18 <= low_high["min"].as_py() and low_high["max"].as_py() <= _INT18:
            return ParsedNumbers(ints, bad)
    try:
        return _plain_decimals(text, bad) or _parse_decimals(text, bad)
    except pa.ArrowInvalid:
        return None  # e.g. '1.2.3' or '1-2'


def _plain_decimals(text: pa.Array, bad: np.ndarray) -> ParsedNumbers | None:
    """Plain decimals ('146.48', '-0.5', '7') in the narrowest decimal type, by one cast at the widest
    scale found; the precision from the largest magnitude (leading zeros do not count, as in
    _parse_decimals). None when they do not fit decimal128: the general reader decides then."""
    point = pc.find_substring(text, ".")
    decimals = pc.if_else(pc.less(point, 0), 0, pc.subtract(pc.subtract(pc.binary_length(text), point), 1))
    scale = int(pc.max(decimals).as_py() or 0)
    if scale >= MAX_DECIMAL_PRECISION:
        return None
    try:
        wide = pc.cast(text, pa.decimal128(MAX_DECIMAL_PRECISION, scale))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    low_high = pc.min_max(wide)
    low, high = low_high["min"].as_py(), low_high["max"].as_py()
    if low is None:
        return None
    largest = max(abs(low), abs(high))
    whole = max(len(str(int(largest))), 1) if largest >= 1 else 1
    precision = whole + scale
    return ParsedNumbers(pc.cast(wide, pa.decimal128(precision, scale)), bad)


def _parse_numbers_by_pattern(text: pa.Array) -> ParsedNumbers:
    """The general reader: trims, checks each value against the number patterns, expands exponents."""
    trimmed = pc.utf8_trim_whitespace(text)
    empty = pc.fill_null(pc.equal(trimmed, ""), False)
    trimmed = pc.if_else(empty, pa.scalar(None, pa.string()), trimmed)
    plain = pc.fill_null(pc.match_substring_regex(trimmed, _PLAIN_NUMBER), False)
    scientific = pc.fill_null(pc.match_substring_regex(trimmed, _SCIENTIFIC_NUMBER), False)
    present = pc.is_valid(trimmed)
    bad = pc.and_(present, pc.invert(pc.or_(plain, scientific))).to_numpy(zero_copy_only=False)
    readable = pc.if_else(plain, trimmed, pa.scalar(None, pa.string()))

    if pc.any(scientific).as_py():
        # Rare (floats written by other tools): expanded in Python, only for those cells.
        expanded = [
            None if not sci else format(Decimal(v), "f")
            for v, sci in zip(trimmed.to_pylist(), scientific.to_pylist(), strict=True)
        ]
        readable = pc.if_else(scientific, pa.array(expanded, pa.string()), readable)

    has_point = pc.fill_null(pc.greater_equal(pc.find_substring(readable, "."), 0), False)
    if not pc.any(has_point).as_py():
        digits = pc.utf8_length(pc.utf8_ltrim(pc.utf8_ltrim(readable, "+-"), "0"))
        too_long = pc.fill_null(pc.greater(digits, 18), False)
        if not pc.any(too_long).as_py():
            # Arrow's integer cast refuses a leading '+' that the pattern accepts
            return ParsedNumbers(pc.cast(pc.utf8_ltrim(readable, "+"), pa.int64()), bad)
    return _parse_decimals(readable, bad)


class _ArrayCache:
    """What was made from the last few arrays, found by identity of their Arrow buffers.

    Arrow buffers do not change, and an entry holds the array it was made from, so a buffer
    address cannot be reused while its entry lives. Per thread: runs on different threads
    never see each other's chunks. A mapping casts ``quantity`` and an expression then reads
    the same ``quantity`` again: with this, both get one parse.
    """

    SIZE = 8

    def __init__(self) -> None:
        self._local = threading.local()

    @staticmethod
    def _key(arr: pa.Array | pa.ChunkedArray) -> tuple[Any, ...] | None:
        if isinstance(arr, pa.ChunkedArray):
            if not len(arr):
                return None
            return (arr.type, len(arr), *(_ArrayCache._key(chunk) for chunk in arr.chunks))
        if not isinstance(arr, pa.Array) or not len(arr):
            return None
        return (arr.type, arr.offset, len(arr), *(b.address if b is not None else 0 for b in arr.buffers()))

    def _entries(self) -> OrderedDict[tuple[Any, ...], tuple[pa.Array, Any]]:
        entries = getattr(self._local, "entries", None)
        if entries is None:
            entries = self._local.entries = OrderedDict()
        return entries

    def get(self, arr: pa.Array | pa.ChunkedArray) -> Any:
        key = self._key(arr)
        if key is None:
            return None
        hit = self._entries().get(key)
        return hit[1] if hit is not None else None

    def put(self, arr: pa.Array | pa.ChunkedArray, made: Any) -> None:
        key = self._key(arr)
        if key is None:
            return
        entries = self._entries()
        entries[key] = (arr, made)
        while len(entries) > self.SIZE:
            entries.popitem(last=False)

    def clear(self) -> None:
        self._entries().clear()


_parsed_cache = _ArrayCache()  # text array -> ParsedNumbers
_as_string_cache = _ArrayCache()  # pandas' stored large_string (chunked) array -> the same text as one string array


def forget_chunk() -> None:
    """Drop what was remembered about this thread's last chunk: its arrays must not outlive it in memory."""
    _parsed_cache.clear()
    _as_string_cache.clear()


def _parse_decimals(readable: pa.Array, bad: np.ndarray) -> ParsedNumbers:
    unsigned = pc.utf8_ltrim(readable, "+-")
    point = pc.find_substring(unsigned, ".")
    length = pc.utf8_length(unsigned)
    no_point = pc.fill_null(pc.less(point, 0), True)
    int_part = pc.if_else(no_point, length, point)
    frac_part = pc.if_else(no_point, 0, pc.subtract(pc.subtract(length, point), 1))
    # leading zeros do not count towards precision ("007.5" is decimal(2,1))
    zeros = pc.subtract(length, pc.utf8_length(pc.utf8_ltrim(unsigned, "0")))
    int_digits = pc.max_element_wise(pc.subtract(int_part, pc.min_element_wise(zeros, int_part)), 1)
    scale = int(pc.max(frac_part).as_py() or 0)
    whole = int(pc.max(int_digits).as_py() or 1)
    if whole + scale > _MAX_WIDE_PRECISION:
        too_wide = pc.fill_null(pc.greater(pc.add(int_digits, scale), _MAX_WIDE_PRECISION), False)
        bad = bad | too_wide.to_numpy(zero_copy_only=False)
        readable = pc.if_else(too_wide, pa.scalar(None, pa.string()), readable)
        whole = max(1, _MAX_WIDE_PRECISION - scale)
        scale = min(scale, _MAX_WIDE_PRECISION - whole)
    precision = max(whole + scale, 1)
    kind = pa.decimal128 if precision <= MAX_DECIMAL_PRECISION else pa.decimal256
    return ParsedNumbers(pc.cast(readable, kind(precision, scale)), bad)


# ---------------------------------------------------------------- decimals


def fit_decimal(values: pa.Array, precision: int, scale: int) -> tuple[pa.Array, np.ndarray]:
    """Round numbers once, half away from zero, to ``scale``; cells too large for ``precision`` become NULL.

    Returns the decimal128(precision, scale) array and a mask of the cells that overflowed.
    """
    if pa.types.is_integer(values.type):
        values = pc.cast(values, pa.decimal128(19, 0))
    elif pa.types.is_floating(values.type):
        values = floats_to_decimal(values, scale)
    if values.type.scale > scale:
        # one more digit first: rounding 999.995 up to 1000.00 must not overflow the input's type
        t = values.type
        wider = pa.decimal128 if t.precision + 1 <= MAX_DECIMAL_PRECISION else pa.decimal256
        values = pc.cast(values, wider(min(t.precision + 1, _MAX_WIDE_PRECISION), t.scale))
        values = pc.round(values, ndigits=scale, round_mode="half_towards_infinity")
    limit = Decimal(10) ** (precision - scale)
    if values.type.precision - values.type.scale > precision - scale and _may_reach(values, limit):
        limit_type = (pa.decimal128 if precision - scale + 1 <= MAX_DECIMAL_PRECISION else pa.decimal256)(
            precision - scale + 1, 0
        )
        over = pc.fill_null(pc.greater_equal(pc.abs(values), pa.scalar(limit, limit_type)), False)
    else:
        over = pa.array(np.zeros(len(values), bool))
    over_mask = over.to_numpy(zero_copy_only=False)
    if over_mask.any():
        values = pc.if_else(over, pa.scalar(None, values.type), values)
    return pc.cast(values, pa.decimal128(precision, scale), safe=False), over_mask


def _may_reach(values: pa.Array, limit: Decimal) -> bool:
    """False when no value's magnitude reaches ``limit`` (one min_max pass: the usual column fits)."""
    largest = largest_magnitude(values)
    return largest is not None and largest >= limit


def largest_magnitude(values: pa.Array) -> Any:
    """max(|x|) of a numeric array (None when all NULL), from one min_max pass rather than a new array of |x|."""
    if values.null_count == len(values):
        return None
    low_high = pc.min_max(values)
    return max(abs(low_high["min"].as_py()), abs(low_high["max"].as_py()))


def floats_to_decimal(values: pa.Array, scale: int) -> pa.Array:
    # Through the shortest text form: 0.1 becomes 0.1, not 0.1000000000000000055511151231257827.
    finite = pc.is_finite(values)
    as_text = pc.cast(pc.if_else(finite, values, pa.scalar(None, pa.float64())), pa.string())
    return parse_numbers(as_text).values if len(values) else pa.array([], pa.decimal128(1, 0))


# ---------------------------------------------------------------- the cast


def cast_series(s: pd.Series, t: DataType, *, column: str = "") -> CastResult:
    """Cast ``s`` to the target type ``t``; failed cells are NA and carry a reason in ``errors``."""
    target = pandas_dtype(t)
    if s.dtype == target:
        return CastResult(s, None)
    caster = _CASTERS[t.name]
    arr, failed, reason = caster(s, t)
    values = _as_series(arr, target, s.index)
    return CastResult(values, _errors(s, failed, reason, s.index))


def _as_series(arr: pa.Array | pd.Series, target: Any, index: pd.Index) -> pd.Series:
    if isinstance(arr, pd.Series):
        return arr.set_axis(index).astype(target)
    if isinstance(target, pd.ArrowDtype):
        return pd.Series(pd.arrays.ArrowExtensionArray(arr), index=index, dtype=target, copy=False)
    # .array: a Series built from another Series would realign on its index, not take its values
    series = pd.Series(arr.to_pandas(types_mapper=_NULLABLE.get).array if arr.type != pa.null() else [pd.NA] * len(arr), index=index)
    return series.astype(target)


_NULLABLE = {
    pa.int64(): pd.Int64Dtype(),
    pa.float64(): pd.Float64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.string(): pd.StringDtype(),
}


def _errors(s: pd.Series, failed: np.ndarray, reason: Any, index: pd.Index) -> pd.Series | None:
    if not failed.any():
        return None
    errors = np.full(len(s), None, dtype=object)
    positions = np.flatnonzero(failed)
    originals = s.iloc[positions].tolist()
    for pos, original in zip(positions, originals, strict=True):
        errors[pos] = reason(original, pos)
    return pd.Series(errors, index=index, dtype=object)


def _show(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else render_value(value)


def _not_a(t: DataType) -> Any:
    return lambda original, _pos: f"{_show(original)} is not a{'n' if str(t)[0] in 'aeiou' else ''} {t}"


# Each caster returns (values, failed mask, reason(original, position) -> str).


def _to_string(s: pd.Series, t: DataType) -> tuple[Any, np.ndarray, Any]:
    return text_array(s), np.zeros(len(s), bool), None


def _numbers_from(s: pd.Series) -> ParsedNumbers:
    if is_text(s) or s.dtype == object:
        return parse_numbers(text_array(s))
    arr = to_arrow(s)
    if pa.types.is_boolean(arr.type):
        arr = pc.cast(arr, pa.int64())
    if not (pa.types.is_integer(arr.type) or pa.types.is_decimal(arr.type) or pa.types.is_floating(arr.type)):
        return ParsedNumbers(pa.nulls(len(arr), pa.int64()), pc.is_valid(arr).to_numpy(zero_copy_only=False))
    if pa.types.is_unsigned_integer(arr.type) or arr.type != pa.int64() and pa.types.is_integer(arr.type):
        arr = pc.cast(arr, pa.decimal128(20, 0)) if arr.type == pa.uint64() else pc.cast(arr, pa.int64())
    return ParsedNumbers(arr, np.zeros(len(arr), bool))


def _strict_cast(text: pa.Array, target: pa.DataType) -> tuple[pa.Array, pa.Array] | None:
    """Arrow's own cast of a text column, as is or trimmed; None when any value needs the general reader.

    Arrow reads exactly the plain forms the general reader accepts ([+-]digits[.digits][e..]),
    and fails on anything else (empty strings, words, '1.2.3', too many decimals for the
    scale), so a column it reads whole gets the same values, several times faster.
    Returns the values and the text they were read from (trimmed or not).
    """
    if text.type != pa.string() or not len(text) or text.null_count == len(text):
        return None
    for candidate in (text, None):
        try:
            if candidate is None:
                candidate = pc.utf8_trim_whitespace(text)
            return pc.cast(candidate, target), candidate
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return None


def _plain_integers(s: pd.Series) -> pa.Array | None:
    """A text column of plain integers read by one Arrow cast (and remembered for expressions over it)."""
    if not is_text(s):
        return None
    text = text_array(s)
    cached = _parsed_cache.get(text)
    if cached is not None:
        return None  # read before: the general path finds it in the cache
    read = _strict_cast(text, pa.int64())
    if read is None:
        return None
    ints, source = read
    # Arrow also reads hexadecimal ('0x1F'), which is not a number in an analyst's file.
    # (only with a leading 0x or 0X: no sign, no space before it).
    if _has_hex_prefix(source):
        return None
    low_high = pc.min_max(ints)
    low, high = low_high["min"].as_py(), low_high["max"].as_py()
    if low is not None and -_INT18 <= low and high <= _INT18:
        # parse_numbers would read the same int64 values: an expression over the column reads it once.
        _parsed_cache.put(text, ParsedNumbers(ints, _no_bad(len(ints))))
    return ints


def _has_hex_prefix(text: pa.Array) -> bool:
    """True when a value starts with 0x or 0X; only looked for when the bytes hold an x at all (rare)."""
    data = text.buffers()[2]
    if data is None or not data.size:
        return False
    raw = np.frombuffer(data, dtype=np.uint8)
    if not ((raw == ord("x")) | (raw == ord("X"))).any():
        return False
    return bool(pc.any(pc.starts_with(text, "0x")).as_py() or pc.any(pc.starts_with(text, "0X")).as_py())


def _no_bad(length: int) -> np.ndarray:
    bad = np.zeros(length, dtype=bool)
    bad.flags.writeable = False
    return bad


def _to_integer(s: pd.Series, t: DataType) -> tuple[Any, np.ndarray, Any]:
    fast = _plain_integers(s)
    if fast is not None:
        return fast, np.zeros(len(fast), bool), _not_a(t)
    parsed = _numbers_from(s)
    arr, bad = parsed.values, parsed.bad.copy()
    if pa.types.is_floating(arr.type):
        finite = pc.fill_null(pc.is_finite(arr), True)
        whole = pc.fill_null(pc.equal(arr, pc.floor(arr)), True)
        in_range = pc.fill_null(pc.and_(pc.greater_equal(arr, -(2.0**63)), pc.less(arr, 2.0**63)), True)
        ok = pc.and_(pc.and_(finite, whole), in_range)
        bad |= ~ok.to_numpy(zero_copy_only=False)
        arr = pc.cast(pc.if_else(ok, arr, pa.scalar(None, pa.float64())), pa.int64())
    elif pa.types.is_decimal(arr.type):
        # One more digit first: the floor of -9.1 (a decimal(2,1)) is -10, which needs three.
        given = arr.type
        wider = pa.decimal128 if given.precision + 1 <= MAX_DECIMAL_PRECISION else pa.decimal256
        arr = pc.cast(arr, wider(min(given.precision + 1, _MAX_WIDE_PRECISION), given.scale))
        whole = pc.fill_null(pc.equal(arr, pc.floor(arr)), True)
        ints, over = fit_decimal(pc.if_else(whole, arr, pa.scalar(None, arr.type)), 38, 0)
        in_range = pc.fill_null(
            pc.and_(
                pc.greater_equal(ints, pa.scalar(Decimal(_INT64_MIN), pa.decimal128(38, 0))),
                pc.less_equal(ints, pa.scalar(Decimal(_INT64_MAX), pa.decimal128(38, 0))),
            ),
            True,
        )
        ok = pc.and_(whole, in_range).to_numpy(zero_copy_only=False) & ~over
        bad |= ~ok
        arr = pc.cast(pc.if_else(pa.array(ok), ints, pa.scalar(None, ints.type)), pa.int64())
    return arr, bad, _not_a(t)


def _to_decimal(s: pd.Series, t: DataType) -> tuple[Any, np.ndarray, Any]:
    precision, scale = t.precision or 18, t.scale or 0
    if is_text(s) and _parsed_cache.get(text_array(s)) is None:
        # Values with at most the column's decimals: one Arrow cast, then only the size check.
        # More decimals (rounding), words or blanks: the general reader below.
        read = _strict_cast(text_array(s), pa.decimal128(MAX_DECIMAL_PRECISION, scale))
        if read is not None:
            arr, over = fit_decimal(read[0], precision, scale)

            def too_big(original: Any, _pos: int) -> str:
                return f"{_show(original).strip(chr(39)).strip()} does not fit {t}"

            return arr, over, too_big
    parsed = _numbers_from(s)
    arr, over = fit_decimal(parsed.values, precision, scale)
    if pa.types.is_floating(parsed.values.type):
        # NaN and infinities are not numbers a decimal column can hold
        over |= pc.fill_null(pc.invert(pc.is_finite(parsed.values)), False).to_numpy(zero_copy_only=False)
    bad = parsed.bad

    def reason(original: Any, pos: int) -> str:
        if bad[pos]:
            return f"{_show(original)} is not a {t}"
        return f"{_show(original).strip(chr(39)).strip()} does not fit {t}"

    return arr, bad | over, reason


def _to_float(s: pd.Series, t: DataType) -> tuple[Any, np.ndarray, Any]:
    if is_text(s) or s.dtype == object:
        text = pd.Series(pc.utf8_trim_whitespace(text_array(s)).to_pylist(), index=s.index, dtype=object)
        text = text.where(text != "", None)
        numbers = pd.to_numeric(text, errors="coerce").astype("Float64")
        bad = (numbers.isna() & text.notna()).to_numpy()
        return numbers, bad, _not_a(t)
    arr = to_arrow(s)
    if pa.types.is_integer(arr.type) or pa.types.is_decimal(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_boolean(arr.type):
        return pc.cast(arr, pa.float64()), np.zeros(len(s), bool), None
    return pa.nulls(len(arr), pa.float64()), pc.is_valid(arr).to_numpy(zero_copy_only=False), _not_a(t)


def _to_boolean(s: pd.Series, t: DataType) -> tuple[Any, np.ndarray, Any]:
    if is_text(s) or s.dtype == object:
        words = pc.utf8_lower(pc.utf8_trim_whitespace(text_array(s)))
        words = pc.if_else(pc.fill_null(pc.equal(words, ""), False), pa.scalar(None, pa.string()), words)
        is_true = pc.is_in(words, pa.array(_TRUE_WORDS))
        is_false = pc.is_in(words, pa.array(_FALSE_WORDS))
        known = pc.or_(is_true, is_false)
        bad = pc.and_(pc.is_valid(words), pc.invert(known)).to_numpy(zero_copy_only=False)
        values = pc.if_else(known, is_true, pa.scalar(None, pa.bool_()))
        return values, bad, _not_a(t)
    arr = to_arrow(s)
    if pa.types.is_boolean(arr.type):
        return arr, np.zeros(len(s), bool), None
    if pa.types.is_integer(arr.type) or pa.types.is_decimal(arr.type) or pa.types.is_floating(arr.type):
        zero_or_one = pc.fill_null(pc.is_in(pc.cast(arr, pa.float64()), pa.array([0.0, 1.0])), True)
        bad = pc.invert(zero_or_one).to_numpy(zero_copy_only=False)
        values = pc.if_else(zero_or_one, pc.not_equal(pc.cast(arr, pa.float64()), 0.0), pa.scalar(None, pa.bool_()))
        return values, bad, _not_a(t)
    return pa.nulls(len(arr), pa.bool_()), pc.is_valid(arr).to_numpy(zero_copy_only=False), _not_a(t)


def read_datetimes(text: pa.Array) -> tuple[pd.Series, np.ndarray]:
    """ISO dates/timestamps in text as naive datetime64[us] (offsets converted to UTC); mask of unreadable cells."""
    trimmed = pc.utf8_trim_whitespace(text)
    trimmed = pc.if_else(pc.fill_null(pc.equal(trimmed, ""), False), pa.scalar(None, pa.string()), trimmed)
    raw = pd.Series(trimmed.to_pandas(), dtype=object)
    with_tz = bool(pc.any(pc.fill_null(pc.match_substring_regex(trimmed, _TZ_SUFFIX), False)).as_py())
    # a tz-aware column must be parsed with utc=True, else pandas refuses mixed offsets
    parsed = pd.to_datetime(raw, format="ISO8601", errors="coerce", utc=with_tz)
    if with_tz:
        parsed = parsed.dt.tz_convert(None)
    parsed = parsed.astype("datetime64[us]")
    bad = (parsed.isna() & raw.notna()).to_numpy()
    return parsed, bad


def read_iso_dates(text: pa.Array, *, trimmed: bool = False) -> pa.Array | None:
    """Text that is all YYYY-MM-DD dates (or empty, or NULL) as date32 by Arrow's strict cast; None otherwise.

    Arrow reads exactly that layout and refuses impossible dates (2023-02-29), as the general
    reader does; spaces around a date are trimmed first, as there; a column with anything
    else (times, offsets, 2024-1-5) goes the general way.
    """
    if text.type != pa.string() or not len(text) or text.null_count == len(text):
        return None
    lengths = pc.binary_length(text)
    empty = pc.equal(lengths, 0)
    if pc.any(empty).as_py():
        text = pc.if_else(empty, pa.scalar(None, pa.string()), text)
        lengths = pc.if_else(empty, pa.scalar(None, pa.int32()), lengths)
        if text.null_count == len(text):
            return None
    low_high = pc.min_max(lengths)
    if low_high["min"].as_py() != 10 or low_high["max"].as_py() != 10:
        if trimmed:
            return None
        # padded dates ('  2024-01-05'): the general reader trims them too
        return read_iso_dates(pc.utf8_trim_whitespace(text), trimmed=True)
    try:
        return pc.cast(text, pa.date32())
    except pa.ArrowInvalid:
        return None


def _to_datetime(s: pd.Series, t: DataType) -> tuple[Any, np.ndarray, Any]:
    if is_text(s):
        parsed, bad = read_datetimes(text_array(s))
        return parsed, bad, _not_a(t)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert(None).astype("datetime64[us]"), np.zeros(len(s), bool), None
    if s.dtype.kind == "M":
        return s.astype("datetime64[us]"), np.zeros(len(s), bool), None
    if s.dtype == object:
        parsed = pd.to_datetime(s, errors="coerce", format="mixed")
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            parsed = parsed.dt.tz_convert(None)
        parsed = parsed.astype("datetime64[us]")
        return parsed, (parsed.isna() & s.notna()).to_numpy(), _not_a(t)
    arr = to_arrow(s)
    if pa.types.is_date(arr.type) or pa.types.is_timestamp(arr.type):
        return pd.Series(pc.cast(arr, pa.timestamp("us")).to_pandas().array), np.zeros(len(s), bool), None
    return pd.Series(pd.NaT, index=s.index), s.notna().to_numpy(), _not_a(t)


def _to_date(s: pd.Series, t: DataType) -> tuple[Any, np.ndarray, Any]:
    arr = to_arrow(s) if isinstance(s.dtype, pd.ArrowDtype) else None
    if arr is not None and pa.types.is_date(arr.type):
        return pc.cast(arr, pa.date32()), np.zeros(len(s), bool), None
    if is_text(s):
        dates = read_iso_dates(text_array(s))
        if dates is not None:
            return dates, np.zeros(len(s), bool), _not_a(t)
    stamps, bad, _ = _to_datetime(s, DataType("datetime"))
    stamps = pd.Series(stamps).astype("datetime64[us]")
    dates = pa.array(stamps.to_numpy(), mask=stamps.isna().to_numpy(), type=pa.timestamp("us"))
    return pc.cast(dates, pa.date32(), safe=False), np.asarray(bad), _not_a(t)


_CASTERS = {
    "string": _to_string,
    "integer": _to_integer,
    "decimal": _to_decimal,
    "float": _to_float,
    "boolean": _to_boolean,
    "date": _to_date,
    "datetime": _to_datetime,
}
