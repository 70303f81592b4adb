"""PostgreSQL ``COPY ... FROM STDIN WITH (FORMAT binary)`` payloads built from Arrow tables by vector operations.

The server ingests binary COPY faster than CSV, but only if producing the payload is cheap. Everything here is
numpy / Arrow compute over whole columns or blocks of rows: there is no Python loop over rows or values (only over
columns, over blocks of 16k rows, and over the few digit groups of a decimal).

    types = column_types(cursor, '"schema"."table"', names)        # from the catalogue
    encoder = encoder_for(arrow_schema, types)                      # None: some pair is unsupported, use CSV
    cursor.copy_expert('COPY ... FROM STDIN WITH (FORMAT binary)', io.BytesIO(encoder.encode(chunk)))

How a chunk is encoded
----------------------
A binary COPY row is ``int16 field count`` followed, per column, by ``int32 length`` and ``length`` payload bytes
(``length`` -1 and no payload for NULL). Each row is cut into *pieces*:

* a **segment**: the fixed-width bytes between two text values (the field count, length words, the payloads of
  integer / float / bool / date / timestamp / numeric columns). Its layout is the same in every row except that the
  payload of a NULL is left out: rows holding a NULL are compacted in place (one shift per nullable field, on
  those rows only);
* a **text value**: the UTF-8 bytes of a string column (its length word ends the preceding segment).

A block of rows at a time, every piece of every row becomes one 16-byte Arrow ``binary_view``, row-major: segments
of at most 12 bytes are written inside their views, longer ones into a scratch buffer the views point at; text
views come from ``cast(string -> string_view)``, which references the column's own bytes without copying them.
One ``cast(binary_view -> binary)`` then gathers the block in C++ (the data buffer of the result is the block's
rows, exactly), and the block is copied to its place in the payload, after the 19-byte header. The scratch memory
is one block's worth, reused, so it stays in cache; the only large allocation is the payload itself.

Values are checked against the server type first (integer ranges, float4 overflow, date and timestamp ranges,
numeric(p,s) overflow as the server rounds, varchar(n)/char(n) lengths): a ValueError names the column, the value
and its row; nothing is ever written wrong silently. Checks skip NULL slots, whatever bytes those hold.

The session's ``client_encoding`` must be UTF8 (the server converts binary text from the client encoding, and the
payload holds UTF-8): psycopg2 connections to a UTF8 database are.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["SUPPORTED", "BinaryCopyEncoder", "column_types", "encoder_for"]

_INTEGERS = frozenset({"int2", "int4", "int8"})
_TEXTS = frozenset({"text", "varchar", "bpchar"})

# Arrow type key (see _arrow_key) -> PostgreSQL type names (pg_type.typname) an encoder can write.
SUPPORTED: dict[str, frozenset[str]] = {
    "int16": _INTEGERS,
    "int32": _INTEGERS,
    "int64": _INTEGERS,
    "double": frozenset({"float8", "float4"}),
    "bool": frozenset({"bool"}),
    "date32[day]": frozenset({"date"}),
    "timestamp[us]": frozenset({"timestamp", "timestamptz"}),  # naive values are taken as UTC for timestamptz
    "timestamp[us, tz]": frozenset({"timestamptz"}),  # Arrow stores UTC instants
    "decimal128": frozenset({"numeric"}),
    "string": _TEXTS,
    "large_string": _TEXTS,
}

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
HEADER = SIGNATURE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # flags 0, header extension length 0
TRAILER = b"\xff\xff"

_INT_RANGE = {"int2": (-(1 << 15), (1 << 15) - 1), "int4": (-(1 << 31), (1 << 31) - 1), "int8": (-(1 << 63), (1 << 63) - 1)}
_INT_FORMAT = {"int2": ">i2", "int4": ">i4", "int8": ">i8"}
_ARROW_INT_BITS = {"int16": 16, "int32": 32, "int64": 64}

_PG_EPOCH_DAYS = 10_957  # 2000-01-01 - 1970-01-01
_PG_EPOCH_MICROS = _PG_EPOCH_DAYS * 86_400 * 1_000_000
# PostgreSQL's accepted ranges (IS_VALID_DATE / IS_VALID_TIMESTAMP), in Arrow's 1970 epoch; beyond them the
# server raises, and +-infinity sit at the int32/int64 extremes, so values are checked here rather than wrapped.
_DATE_MIN = -2_451_545 + _PG_EPOCH_DAYS  # 4714-11-24 BC
_DATE_END = 2_147_483_494 - 2_451_545 + _PG_EPOCH_DAYS  # exclusive, 5874898-01-01
_TIMESTAMP_MIN = -211_813_488_000_000_000 + _PG_EPOCH_MICROS  # 4714-11-24 00:00 BC; the upper end fits in int64

_NUMERIC_NEG = 0x4000
_MAX_DECIMAL_SCALE = 1000  # keeps dscale within numeric_recv's 0x3FFF mask and the weight within int16
_VARHDRSZ = 4
_BLOCK_ROWS = 16_384  # rows whose views are written together (a block of views stays in cache)
_INLINE = 12  # binary_view: values of at most 12 bytes are stored in the view itself
_VIEW = 16
_LITTLE = sys.byteorder == "little"


# --------------------------------------------------------------------------------------------------- catalogue


_COLUMN_TYPES_SQL = """
SELECT r.oid IS NOT NULL, a.attname, t.typname, a.atttypmod
FROM (SELECT pg_catalog.to_regclass(%s) AS oid) AS r
LEFT JOIN pg_catalog.pg_attribute AS a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
"""


def column_types(cursor: Any, qualified_table: str, column_names: list[str]) -> list[tuple[str, int]]:
    """(type name, typmod) per column, from pg_attribute/pg_type: e.g. ("int8", -1), ("numeric", <typmod>).

    ``qualified_table`` is an already-quoted name such as ``'"etl_bench"."orders"'``; it is bound as a value and
    resolved by the server (``to_regclass``), never formatted into the SQL. Raises LookupError for a missing table
    or column.
    """
    cursor.execute(_COLUMN_TYPES_SQL, (qualified_table,))
    rows = cursor.fetchall()
    if not rows or not rows[0][0]:
        raise LookupError(f"table {qualified_table} does not exist")
    types = {name: (typname, int(typmod)) for _exists, name, typname, typmod in rows if name is not None}
    missing = [name for name in column_names if name not in types]
    if missing:
        raise LookupError(f"table {qualified_table} has no column {', '.join(repr(m) for m in missing)}")
    return [types[name] for name in column_names]


# ------------------------------------------------------------------------------------------------ type pairing


def _arrow_key(arrow_type: pa.DataType) -> str | None:
    if pa.types.is_timestamp(arrow_type):
        if arrow_type.unit != "us":
            return None
        return "timestamp[us, tz]" if arrow_type.tz is not None else "timestamp[us]"
    if pa.types.is_decimal128(arrow_type):
        return "decimal128"
    key = str(arrow_type)
    return key if key in SUPPORTED else None


def encoder_for(arrow_schema: pa.Schema, pg_types: list[tuple[str, int]]) -> BinaryCopyEncoder | None:
    """An encoder when every (arrow field type, server column type) pair is supported; None otherwise (use CSV)."""
    if len(arrow_schema) != len(pg_types):
        raise ValueError(f"{len(arrow_schema)} Arrow fields but {len(pg_types)} server column types")
    if not _LITTLE:  # view lengths and offsets below are written little-endian
        return None
    for field, (typname, _typmod) in zip(arrow_schema, pg_types):
        key = _arrow_key(field.type)
        if key is None or typname not in SUPPORTED[key]:
            return None
        if key == "decimal128" and abs(field.type.scale) > _MAX_DECIMAL_SCALE:
            return None
    return BinaryCopyEncoder(arrow_schema, [(str(t), int(m)) for t, m in pg_types])


# ------------------------------------------------------------------------------------------------ array helpers


def _single(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.Array):
        return column
    if column.num_chunks == 1:
        return column.chunk(0)
    if column.num_chunks == 0:
        return pa.array([], type=column.type)
    return column.combine_chunks()


def _values(array: pa.Array, dtype: str) -> np.ndarray:
    """The value buffer of a fixed-width array as numpy (no copy), honouring the array's offset."""
    n, offset = len(array), array.offset
    return np.frombuffer(array.buffers()[1], dtype=dtype, count=offset + n)[offset:]


def _bits(buffer: pa.Buffer, offset: int, n: int) -> np.ndarray:
    return np.unpackbits(np.frombuffer(buffer, dtype=np.uint8), count=offset + n, bitorder="little")[offset:]


def _valid(array: pa.Array) -> np.ndarray | None:
    """Boolean validity per row, or None when the array holds no null."""
    if array.null_count == 0:
        return None
    return _bits(array.buffers()[0], array.offset, len(array)).view(np.bool_)


def _first(bad: np.ndarray, valid: np.ndarray | None) -> int:
    if valid is not None:
        bad = bad & valid
    return int(np.flatnonzero(bad)[0])


def _shown(array: pa.Array, row: int, raw: Any, unit: str = "") -> str:
    try:
        return repr(array[row].as_py())
    except (ValueError, OverflowError, pa.ArrowException):  # e.g. a date Python's datetime cannot hold
        return f"{raw}{unit}"


# ----------------------------------------------------------------------------------------------- column codecs


class _Fixed:
    """Fixed-width payload fields of one column: [(numpy big-endian format, values or constant)], validity."""

    __slots__ = ("fields", "valid", "width")

    def __init__(self, fields: list[tuple[str, Any]], valid: np.ndarray | None) -> None:
        self.fields = fields
        self.valid = valid
        self.width = sum(np.dtype(fmt).itemsize for fmt, _ in fields)


class _Text:
    """A string column: its array, value offsets (numpy, from the array's offset on) and validity."""

    __slots__ = ("array", "offsets", "valid")

    def __init__(self, array: pa.Array, offsets: np.ndarray, valid: np.ndarray | None) -> None:
        self.array = array
        self.offsets = offsets
        self.valid = valid

    @property
    def size(self) -> int:
        return int(self.offsets[-1] - self.offsets[0])

    def length_words(self, start: int, stop: int) -> list[np.ndarray]:
        lengths = (self.offsets[start + 1:stop + 1] - self.offsets[start:stop]).astype(np.int32, copy=False)
        return [lengths if self.valid is None else np.where(self.valid[start:stop], lengths, np.int32(-1))]


class _Blockwise:
    """Arrays computed for one block of rows at a time (while it is in cache), shared by several fields."""

    __slots__ = ("compute", "key", "result")

    def __init__(self, compute: Any) -> None:
        self.compute = compute
        self.key: tuple[int, int] | None = None
        self.result: list[np.ndarray] = []

    def get(self, start: int, stop: int) -> list[np.ndarray]:
        if self.key != (start, stop):
            self.result, self.key = self.compute(start, stop), (start, stop)
        return self.result

    def part(self, index: int) -> _Part:
        return _Part(self, index)


class _Part:
    __slots__ = ("index", "source")

    def __init__(self, source: _Blockwise, index: int) -> None:
        self.source = source
        self.index = index


def _block(value: Any, start: int, stop: int) -> Any:
    if isinstance(value, _Part):
        return value.source.get(start, stop)[value.index]
    return value[start:stop]


def _null_words(width: int, valid: np.ndarray) -> _Part:
    """The length word of a nullable fixed-width column: its width, or -1 for NULL."""
    return _Blockwise(lambda start, stop: [np.where(valid[start:stop], np.int32(width), np.int32(-1))]).part(0)


class _Column:
    def __init__(self, name: str, arrow_type: pa.DataType, typname: str, typmod: int) -> None:
        self.name = name
        self.arrow_type = arrow_type
        self.typname = typname
        self.typmod = typmod
        self.key = _arrow_key(arrow_type)

    def error(self, message: str, row: int) -> ValueError:
        return ValueError(f"column {self.name!r}: {message} (row {row} of the chunk)")

    def encode(self, array: pa.Array) -> _Fixed | _Text:
        key = self.key
        if key in _ARROW_INT_BITS:
            return self._integer(array)
        if key == "double":
            return self._double(array)
        if key == "bool":
            return _Fixed([("u1", _bits(array.buffers()[1], array.offset, len(array)))], _valid(array))
        if key == "date32[day]":
            return self._date(array)
        if key in ("timestamp[us]", "timestamp[us, tz]"):
            return self._timestamp(array)
        if key == "decimal128":
            return self._numeric(array)
        return self._text(array)

    # -- integers / floats / dates / timestamps

    def _integer(self, array: pa.Array) -> _Fixed:
        bits = _ARROW_INT_BITS[self.key]
        values = _values(array, f"<i{bits // 8}")
        valid = _valid(array)
        lo, hi = _INT_RANGE[self.typname]
        if bits > {"int2": 16, "int4": 32, "int8": 64}[self.typname]:
            bounds = pc.min_max(array)
            least, most = bounds["min"].as_py(), bounds["max"].as_py()
            if least is not None and (least < lo or most > hi):
                row = _first((values < lo) | (values > hi), valid)
                raise self.error(f"value {int(values[row])} is out of range for PostgreSQL {self.typname} ({lo}..{hi})", row)
        return _Fixed([(_INT_FORMAT[self.typname], values)], valid)

    def _double(self, array: pa.Array) -> _Fixed:
        values = _values(array, "<f8")
        valid = _valid(array)
        if self.typname == "float8":
            return _Fixed([(">f8", values)], valid)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            single = values.astype(np.float32)
            # float4in rejects what does not fit a float4 instead of writing infinity or zero: so does this
            bad = (np.isfinite(values) & ~np.isfinite(single)) | ((values != 0) & (single == 0))
        if valid is not None:
            bad &= valid
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise self.error(f"value {float(values[row])!r} is out of range for PostgreSQL float4", row)
        return _Fixed([(">f4", single)], valid)

    def _date(self, array: pa.Array) -> _Fixed:
        days = _values(array, "<i4")
        valid = _valid(array)
        bounds = pc.min_max(array.view(pa.int32()))
        least, most = bounds["min"].as_py(), bounds["max"].as_py()
        if least is not None and (least < _DATE_MIN or most >= _DATE_END):
            row = _first((days < _DATE_MIN) | (days >= _DATE_END), valid)
            shown = _shown(array, row, int(days[row]), " days since 1970-01-01")
            raise self.error(f"value {shown} is out of range for PostgreSQL date", row)
        return _Fixed([(">i4", days - np.int32(_PG_EPOCH_DAYS))], valid)

    def _timestamp(self, array: pa.Array) -> _Fixed:
        micros = _values(array, "<i8")
        valid = _valid(array)
        least = pc.min(array.view(pa.int64())).as_py()
        if least is not None and least < _TIMESTAMP_MIN:
            row = _first(micros < _TIMESTAMP_MIN, valid)
            shown = _shown(array, row, int(micros[row]), " microseconds since 1970-01-01")
            raise self.error(f"value {shown} is out of range for PostgreSQL {self.typname}", row)
        return _Fixed([(">i8", micros - np.int64(_PG_EPOCH_MICROS))], valid)

    # -- numeric

    def _numeric(self, array: pa.Array) -> _Fixed:
        precision, scale = self.arrow_type.precision, self.arrow_type.scale
        n = len(array)
        words = np.frombuffer(array.buffers()[1], dtype="<u8", count=2 * (array.offset + n))[2 * array.offset:]
        low, high = words[0::2], words[1::2].view(np.int64)
        negative = high < 0
        valid = _valid(array)
        self._check_numeric(array, low, high, valid, precision, scale)

        # value = u * 10^-scale. Pad u with `pad` zeros so the scale becomes a multiple of 4, then cut the
        # magnitude into `groups` base-10000 digits: the same digit count and weight for every row.
        pad = (-scale) % 4
        groups = -(-(precision + pad) // 4)
        fraction_groups = (scale + pad) // 4

        def sign_and_digits(start: int, stop: int) -> list[np.ndarray]:
            part_low, part_high, part_negative = low[start:stop], high[start:stop], negative[start:stop]
            if precision <= 18:  # |u| < 10^18 fits int64: the low word is the value
                with np.errstate(over="ignore"):
                    digits = _digits_int64(np.abs(part_low.view(np.int64)), groups, pad)
            else:
                digits = _digits_u128(*_magnitude(part_low, part_high, part_negative), groups, pad)
            return [part_negative.view(np.uint8) * np.uint16(_NUMERIC_NEG), *digits]

        computed = _Blockwise(sign_and_digits)
        fields: list[tuple[str, Any]] = [
            (">i2", groups),  # ndigits
            (">i2", groups - 1 - fraction_groups),  # weight of the first digit
            (">u2", computed.part(0)),  # sign
            (">u2", max(scale, 0)),  # dscale
        ]
        fields += [(">i2", computed.part(1 + i)) for i in range(groups)]
        return _Fixed(fields, valid)

    def _check_numeric(self, array: pa.Array, low: np.ndarray, high: np.ndarray, valid: np.ndarray | None,
                       precision: int, scale: int) -> None:
        if precision <= 18:  # in int64 with numpy (Arrow's decimal min_max is several times slower)
            if valid is not None and not valid.any():
                return
            signed = low.view(np.int64)
            least = int(np.min(signed, where=valid, initial=np.iinfo(np.int64).max) if valid is not None else signed.min())
            most = int(np.max(signed, where=valid, initial=np.iinfo(np.int64).min) if valid is not None else signed.max())
            wider = high != (signed >> 63)  # the high word is not the low word's sign: beyond int64
            if valid is not None:
                wider &= valid
            largest = 1 << 127 if wider.any() else max(abs(least), abs(most))
        else:
            bounds = pc.min_max(array)
            if bounds["min"].as_py() is None:
                return
            largest = max(abs(_unscaled(bounds["min"].as_py(), scale)), abs(_unscaled(bounds["max"].as_py(), scale)))
        # The encoding assumes the declared precision: |u| < 10^precision.
        if largest >= 10**precision:
            row = _first_magnitude_at_least(low, high, 10**precision, valid)
            raise self.error(f"value {_shown(array, row, '?')} has more digits than {self.arrow_type}", row)
        if self.typmod < _VARHDRSZ:
            return
        # apply_typmod: the value rounded (half away from zero) to the column's scale must have fewer than
        # `precision` digits as an unscaled integer. As a bound on |u| (exclusive):
        typ_precision = ((self.typmod - _VARHDRSZ) >> 16) & 0xFFFF
        typ_scale = (((self.typmod - _VARHDRSZ) & 0x7FF) ^ 1024) - 1024
        if typ_scale >= scale:
            exponent = typ_precision - typ_scale + scale
            limit = 10**exponent if exponent >= 0 else 1
        else:
            unit = 10 ** (scale - typ_scale)
            limit = 10**typ_precision * unit - unit // 2
        if largest >= limit:
            row = _first_magnitude_at_least(low, high, limit, valid)
            raise self.error(
                f"value {_shown(array, row, '?')} does not fit PostgreSQL numeric({typ_precision},{typ_scale})", row)

    # -- text

    def _text(self, array: pa.Array) -> _Text:
        offset_type = "<i8" if pa.types.is_large_string(array.type) else "<i4"
        n = len(array)
        offsets = np.frombuffer(array.buffers()[1], dtype=offset_type, count=array.offset + n + 1)[array.offset:]
        if offsets[-1] >= 1 << 31:  # string views address their text with 32-bit offsets
            raise ValueError(f"column {self.name!r}: a chunk may hold at most 2 GiB of text per column; "
                             "encode smaller chunks")
        if self.typname in ("varchar", "bpchar") and self.typmod >= _VARHDRSZ:
            self._check_length(array, self.typmod - _VARHDRSZ)
        return _Text(array, offsets, _valid(array))

    def _check_length(self, array: pa.Array, limit: int) -> None:
        longest = pc.max(pc.utf8_length(array)).as_py()
        if longest is None or longest <= limit:
            return
        # Like varchar_input / bpchar_input: characters past the limit may only be spaces (they are cut off).
        bad = pc.greater(pc.utf8_length(pc.utf8_rtrim(array, characters=" ")), limit)
        row = pc.index(bad, True).as_py()
        if row >= 0:
            raise self.error(f"value {array[row].as_py()!r} is longer than {self.typname}({limit})", row)


def _unscaled(value: Decimal, scale: int) -> int:
    sign, digits, exponent = value.as_tuple()
    integer = int("".join(map(str, digits)) or "0")
    shift = int(exponent) + scale
    integer = integer * 10**shift if shift >= 0 else integer // 10**-shift
    return -integer if sign else integer


def _magnitude(low: np.ndarray, high: np.ndarray, negative: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|u| of two's-complement 128-bit integers as (low, high) uint64 words."""
    high_u = high.view(np.uint64)
    neg_low = ~low + np.uint64(1)
    neg_high = ~high_u + (low == 0).astype(np.uint64)
    return np.where(negative, neg_low, low), np.where(negative, neg_high, high_u)


def _first_magnitude_at_least(low: np.ndarray, high: np.ndarray, limit: int, valid: np.ndarray | None) -> int:
    mag_low, mag_high = _magnitude(low, high, high.view(np.int64) < 0)
    limit_low, limit_high = np.uint64(limit & ((1 << 64) - 1)), np.uint64(limit >> 64)
    bad = (mag_high > limit_high) | ((mag_high == limit_high) & (mag_low >= limit_low))
    return _first(bad, valid)


def _digits_int64(magnitude: np.ndarray, groups: int, pad: int) -> list[np.ndarray]:
    """Base-10000 digits (most significant first) of magnitude * 10^pad, magnitude < 10^18."""
    digits: list[np.ndarray] = []  # least significant first
    rest = magnitude
    if pad:
        rest, remainder = np.divmod(rest, 10 ** (4 - pad))
        digits.append(remainder * 10**pad)
    while len(digits) < groups - 1:
        rest, remainder = np.divmod(rest, 10_000)
        digits.append(remainder)
    if len(digits) < groups:
        digits.append(rest)
    return digits[::-1]


def _digits_u128(low: np.ndarray, high: np.ndarray, groups: int, pad: int) -> list[np.ndarray]:
    """Base-10000 digits of (high:low) * 10^pad by long division over four 32-bit limbs in uint64."""
    mask = np.uint64(0xFFFFFFFF)
    limbs = [high >> np.uint64(32), high & mask, low >> np.uint64(32), low & mask]

    def divide(divisor: int) -> np.ndarray:
        remainder = np.zeros(len(low), dtype=np.uint64)
        for i, limb in enumerate(limbs):  # remainder < divisor < 2^32, so (remainder << 32 | limb) fits uint64
            limbs[i], remainder = np.divmod((remainder << np.uint64(32)) | limb, np.uint64(divisor))
        return remainder

    digits: list[np.ndarray] = []
    if pad:
        digits.append(divide(10 ** (4 - pad)) * np.uint64(10**pad))
    while len(digits) < groups:
        two = divide(100_000_000)
        digits += [two % np.uint64(10_000), two // np.uint64(10_000)]
    return [d.astype(np.int64) for d in digits[:groups][::-1]]


# ---------------------------------------------------------------------------------------------------- assembly


class _Segment:
    """Fixed-layout bytes of a row between two text values; NULL payloads are cut out per row afterwards."""

    __slots__ = ("fields", "nullable", "width")

    def __init__(self) -> None:
        self.fields: list[tuple[int, str, Any]] = []
        self.nullable: list[tuple[int, int, np.ndarray]] = []  # (payload offset, payload width, validity)
        self.width = 0

    def add(self, fmt: str, value: Any) -> None:
        self.fields.append((self.width, fmt, value))
        self.width += np.dtype(fmt).itemsize


def _empty(shape: tuple[int, int]) -> tuple[np.ndarray, pa.Buffer]:
    """Uninitialised uint8 scratch memory from Arrow's pool: unlike numpy's large allocations (fresh pages from
    the OS every time, each one faulted in), the pool keeps freed memory for the next chunk."""
    buffer = pa.allocate_buffer(shape[0] * shape[1])
    return np.frombuffer(buffer, dtype=np.uint8).reshape(shape), buffer


class _Rows:
    """Writes fields (byte offset, numpy format, value) into rows of ``itemsize`` bytes, a block of rows at a time.

    Each varying field is one strided assignment (numpy converts to the field's big-endian format on the way);
    constants and unused bytes (zeros) are written as runs of raw bytes.
    """

    def __init__(self, itemsize: int, fields: list[tuple[int, str, Any]]) -> None:
        template = np.zeros(itemsize, dtype=np.uint8)
        covered = np.zeros(itemsize + 1, dtype=bool)
        covered[itemsize] = True
        items: list[tuple[int, Any, Any]] = []
        for offset, fmt, value in fields:
            size = np.dtype(fmt).itemsize
            if isinstance(value, (_Part, np.ndarray)):
                items.append((offset, fmt, value))
                covered[offset:offset + size] = True
            else:
                template[offset:offset + size] = np.frombuffer(np.array(value, dtype=fmt).tobytes(), dtype=np.uint8)
        edges = np.flatnonzero(np.diff(np.concatenate([[True], covered]).astype(np.int8)))
        for begin, end in zip(edges[0::2].tolist(), edges[1::2].tolist()):  # runs no varying field covers
            while begin < end:  # as native unsigned integers: numpy broadcasts those faster than raw bytes
                size = next(size for size in (8, 4, 2, 1) if size <= end - begin)
                items.append((begin, f"u{size}", np.frombuffer(template[begin:begin + size].tobytes(), f"u{size}")[0]))
                begin += size
        self.dtype = np.dtype({"names": [f"f{i}" for i in range(len(items))], "formats": [fmt for _, fmt, _ in items],
                               "offsets": [offset for offset, _, _ in items], "itemsize": itemsize})
        self.values = [(f"f{i}", value) for i, (_, _, value) in enumerate(items)]

    def write(self, target: np.ndarray, start: int, stop: int) -> None:
        """Rows start:stop into ``target`` ((stop - start, itemsize) uint8, rows may be strided)."""
        rows = target.view(self.dtype)[:, 0]
        for name, value in self.values:
            rows[name] = value if isinstance(value, np.generic) else _block(value, start, stop)


def _compact(rows: np.ndarray, base: int, width: int, nullable: list[tuple[int, int, np.ndarray]],
             start: int, stop: int) -> np.ndarray | None:
    """Cut NULL payloads out of the rows holding them (shifting the rest left, zero-filling the end).

    Returns each row's length, or None when no row holds a NULL.
    """
    lengths = None
    for offset, size, valid in reversed(nullable):  # right to left: later fields are already compacted
        nulls = np.flatnonzero(~valid[start:stop])
        if nulls.size == 0:
            continue
        if lengths is None:
            lengths = np.full(stop - start, width, dtype=np.int32)
        begin, end = base + offset, base + width
        rows[nulls, begin:end - size] = rows[nulls, begin + size:end]
        rows[nulls, end - size:end] = 0
        lengths[nulls] -= size
    return lengths


class _InlineSegment:
    """A segment of at most 12 bytes: built inside its views (length word, then the bytes)."""

    def __init__(self, segment: _Segment) -> None:
        self.width = segment.width
        self.nullable = segment.nullable
        self.rows = _Rows(_VIEW, [(0, "<i4", segment.width)] + [(4 + o, f, v) for o, f, v in segment.fields])

    def write(self, views: np.ndarray, start: int, stop: int) -> None:
        self.rows.write(views, start, stop)
        lengths = _compact(views, 4, self.width, self.nullable, start, stop)
        if lengths is not None:
            views.view("<i4")[:, 0] = lengths


class _BufferSegment:
    """A longer segment: its bytes go to a scratch buffer of their own (one block's worth, reused), the views
    point at them."""

    def __init__(self, segment: _Segment, buffers: list[pa.Buffer]) -> None:
        self.width = segment.width
        self.nullable = segment.nullable
        self.rows = _Rows(segment.width, segment.fields)
        self.prefix = np.dtype({"names": ["p"], "formats": ["<u4"], "offsets": [0], "itemsize": segment.width})
        self.data, buffer = _empty((_BLOCK_ROWS, segment.width))
        self.index = len(buffers)
        buffers.append(buffer)

    def write(self, views: np.ndarray, start: int, stop: int) -> None:
        width = self.width
        data = self.data[:stop - start]
        self.rows.write(data, start, stop)
        lengths = _compact(data, 0, width, self.nullable, start, stop)
        words = views.view("<u4")
        words[:, 0] = width if lengths is None else lengths
        words[:, 1] = data.view(self.prefix)[:, 0]["p"]  # the first 4 bytes
        words[:, 2] = self.index
        words[:, 3] = np.arange(0, (stop - start) * width, width, dtype=np.uint32)
        if lengths is not None:  # rows whose NULLs left at most 12 bytes must be inline views
            short = np.flatnonzero(lengths <= _INLINE)
            if short.size:
                views[short, 4:_VIEW] = data[short, :_INLINE]


class _TextViews:
    """cast(string -> string_view) builds views that reference the column's own bytes; they are copied over."""

    def __init__(self, piece: _Text, buffers: list[pa.Buffer]) -> None:
        n = len(piece.array)
        as_views = pc.cast(piece.array, pa.string_view())
        begin = as_views.offset * _VIEW
        self.source = np.frombuffer(as_views.buffers()[1], dtype=np.uint8,
                                    count=begin + n * _VIEW)[begin:].view("V16")
        self.valid = piece.valid
        self.base = len(buffers)
        buffers.extend(as_views.buffers()[2:])

    def write(self, views: np.ndarray, start: int, stop: int) -> None:
        views.view("V16")[:, 0] = self.source[start:stop]
        if self.valid is None and not self.base:
            return
        words = views.view("<i4")
        if self.valid is not None:  # a NULL's text is left out (its length word is -1)
            words[~self.valid[start:stop], 0] = 0
        if self.base:
            np.add(words[:, 2], np.int32(self.base), out=words[:, 2], where=words[:, 0] > _INLINE)


def _payload_size(n: int, pieces: list[_Segment | _Text]) -> int:
    """Bytes of the payload (an upper bound when NULL payloads are left out)."""
    total = len(HEADER) + len(TRAILER)
    for piece in pieces:
        total += n * piece.width if isinstance(piece, _Segment) else piece.size
    return total


def _payload(n: int, pieces: list[_Segment | _Text]) -> pa.Buffer:
    """Header, rows, trailer. A block of rows at a time: every piece of every row becomes a binary view (row-major),
    one cast gathers the block's bytes, which are copied to their place in the payload. The scratch memory (views,
    segment bytes) is one block's worth, reused, and stays in cache."""
    payload = pa.allocate_buffer(_payload_size(n, pieces))
    out = np.frombuffer(payload, dtype=np.uint8)
    out[:len(HEADER)] = np.frombuffer(HEADER, dtype=np.uint8)
    position = len(HEADER)
    count = len(pieces)
    buffers: list[pa.Buffer] = []  # the texts' own buffers first, then the segments' scratch buffers
    texts = {j: _TextViews(piece, buffers) for j, piece in enumerate(pieces) if isinstance(piece, _Text)}
    writers = [texts[j] if j in texts else _InlineSegment(piece) if piece.width <= _INLINE
               else _BufferSegment(piece, buffers) for j, piece in enumerate(pieces)]
    views, views_buffer = _empty((_BLOCK_ROWS * count, _VIEW))
    for start in range(0, n, _BLOCK_ROWS):
        stop = min(n, start + _BLOCK_ROWS)
        rows = views[:(stop - start) * count].reshape(stop - start, count * _VIEW)
        for j, writer in enumerate(writers):
            writer.write(rows[:, j * _VIEW: (j + 1) * _VIEW], start, stop)
        block = pa.Array.from_buffers(pa.binary_view(), (stop - start) * count, [None, views_buffer, *buffers])
        gathered = pc.cast(block, pa.binary())
        size = int(np.frombuffer(gathered.buffers()[1], dtype="<i4", count=len(block) + 1)[-1])
        out[position:position + size] = np.frombuffer(gathered.buffers()[2], dtype=np.uint8, count=size)
        position += size
    out[position:position + len(TRAILER)] = np.frombuffer(TRAILER, dtype=np.uint8)
    return payload.slice(0, position + len(TRAILER))


# ------------------------------------------------------------------------------------------------------ encoder


class BinaryCopyEncoder:
    """Encodes Arrow tables of one schema as complete ``COPY ... FROM STDIN WITH (FORMAT binary)`` payloads."""

    def __init__(self, arrow_schema: pa.Schema, pg_types: list[tuple[str, int]]) -> None:
        self.schema = arrow_schema
        self.pg_types = pg_types
        self._columns = [_Column(field.name, field.type, typname, typmod)
                         for field, (typname, typmod) in zip(arrow_schema, pg_types)]

    def encode(self, table: pa.Table) -> pa.Buffer | memoryview | bytes:
        """Signature, flags, header extension, the rows and the trailer. ValueError (column, value) when a value
        cannot be represented in its server type; nothing is ever written wrong silently."""
        if table.num_columns != len(self._columns) or any(
                column.type != spec.arrow_type for column, spec in zip(table.columns, self._columns)):
            raise ValueError(f"table schema {table.schema} does not match the encoder's schema {self.schema}")
        n = table.num_rows
        if n == 0:
            return HEADER + TRAILER
        arrays = [_single(column) for column in table.columns]
        encoded = [spec.encode(array) for spec, array in zip(self._columns, arrays)]
        return _payload(n, self._pieces(encoded))

    def _pieces(self, encoded: list[_Fixed | _Text]) -> list[_Segment | _Text]:
        pieces: list[_Segment | _Text] = []
        segment = _Segment()
        segment.add(">i2", len(encoded))  # field count
        for column in encoded:
            if isinstance(column, _Text):
                segment.add(">i4", _Blockwise(column.length_words).part(0))
                pieces += [segment, column]
                segment = _Segment()
                continue
            valid = column.valid
            segment.add(">i4", column.width if valid is None else _null_words(column.width, valid))
            start = segment.width
            for fmt, value in column.fields:
                segment.add(fmt, value)
            if valid is not None:
                segment.nullable.append((start, column.width, valid))
        if segment.width:
            pieces.append(segment)
        return pieces
