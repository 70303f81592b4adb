"""The binary COPY encoder round-trips every supported (Arrow, PostgreSQL) pair through a real server."""

from __future__ import annotations

import io
import math
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import numpy as np
import psycopg2
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import sqlalchemy as sa
from psycopg2 import sql

from etl_studio.core.targets import pg_binary
from etl_studio.core.targets.pg_binary import HEADER, TRAILER, column_types, encoder_for

pytestmark = pytest.mark.postgres

UTC = timezone.utc


@pytest.fixture(scope="module")
def conn(postgres_url: str) -> Iterator[Any]:
    dsn = sa.engine.make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def schema(conn: Any) -> Iterator[str]:
    name = f"test_pg_binary_{uuid.uuid4().hex[:10]}"
    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    yield name
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
def cur(conn: Any) -> Iterator[Any]:
    with conn.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'UTC'")
        yield cursor


def qualified(schema: str, table: str) -> str:
    return '"' + schema + '"."' + table + '"'


def create(cur: Any, schema: str, columns: dict[str, str]) -> str:
    """A fresh table of the given column DDL types; returns its quoted name."""
    name = qualified(schema, f"t_{uuid.uuid4().hex[:10]}")
    cur.execute(sql.SQL("CREATE TABLE {} ({})").format(
        sql.SQL(name), sql.SQL(", ").join(sql.SQL("{} " + ddl).format(sql.Identifier(column)) for column, ddl in columns.items())))
    return name


def copy_binary(cur: Any, name: str, columns: list[str], payload: Any) -> None:
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT binary)").format(
        sql.SQL(name), sql.SQL(", ").join(map(sql.Identifier, columns)))
    cur.copy_expert(statement.as_string(cur), io.BytesIO(bytes(payload)))


def select(cur: Any, name: str, columns: list[str]) -> list[tuple]:
    cur.execute(sql.SQL("SELECT {} FROM {} ORDER BY 1").format(sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(name)))
    return cur.fetchall()


def load(cur: Any, schema: str, ddl: dict[str, str], table: pa.Table) -> list[tuple]:
    """Create the table, encode ``table`` for it, COPY the payload in and read the rows back (ordered by column 1)."""
    name = create(cur, schema, ddl)
    columns = list(ddl)
    encoder = encoder_for(table.schema, column_types(cur, name, columns))
    assert encoder is not None
    copy_binary(cur, name, columns, encoder.encode(table))
    return select(cur, name, columns)


def rows_of(table: pa.Table) -> list[tuple]:
    return [tuple(row.values()) for row in table.to_pylist()]


# ---------------------------------------------------------------------------------------------------- round trips


def test_every_type_with_nulls_in_every_column_and_an_all_null_row(cur: Any, schema: str) -> None:
    table = pa.table({
        "id": pa.array([1, 2, 3, 4, 5], pa.int64()),
        "i2": pa.array([-32768, None, 0, 32767, None], pa.int16()),
        "i4": pa.array([-(2**31), 7, None, 2**31 - 1, None], pa.int32()),
        "i8": pa.array([-(2**63), 2**63 - 1, 0, None, None], pa.int64()),
        "f8": pa.array([1.5, -0.0, None, 1e300, None], pa.float64()),
        "b": pa.array([True, False, None, True, None]),
        "d": pa.array([date(2024, 2, 29), None, date(1970, 1, 1), date(1999, 12, 31), None]),
        "ts": pa.array([datetime(2024, 1, 2, 3, 4, 5, 6), None, datetime(1999, 12, 31, 23, 59, 59, 999999),
                        datetime(1970, 1, 1), None], pa.timestamp("us")),
        "n": pa.array([Decimal("12.34"), Decimal("-0.01"), None, Decimal("0"), None], pa.decimal128(10, 2)),
        "s": pa.array(["", None, "plain", "é 漢字 😀", None]),
        "v": pa.array(["a,b", "x\ty\n\"q\"\\", None, "", None]),
        "c": pa.array(["ab", None, "", "xyz", None]),
    })
    ddl = {"id": "int8", "i2": "int2", "i4": "int4", "i8": "int8", "f8": "float8", "b": "bool", "d": "date",
           "ts": "timestamp", "n": "numeric(10,2)", "s": "text", "v": "varchar(20)", "c": "char(3)"}
    got = load(cur, schema, ddl, table)
    assert [row[:-1] for row in got] == [row[:-1] for row in rows_of(table)]
    assert [row[-1] for row in got] == ["ab ", None, "   ", "xyz", None]  # char(n) pads with spaces
    assert got[4][1:] == (None,) * 11  # a row of NULLs only
    assert got[0][9] == "" and got[1][9] is None  # empty string is not NULL


def test_columns_of_nulls_only(cur: Any, schema: str) -> None:
    n = 3
    types = {"i4": pa.int64(), "v": pa.string(), "n": pa.decimal128(10, 2), "d": pa.date32(), "tz": pa.timestamp("us"),
             "f4": pa.float64(), "b": pa.bool_(), "c": pa.large_string(), "w": pa.decimal128(30, 2)}
    table = pa.table({"id": pa.array(range(n)), **{name: pa.nulls(n, arrow_type) for name, arrow_type in types.items()}})
    ddl = {"id": "int8", "i4": "int4", "v": "varchar(8)", "n": "numeric", "d": "date", "tz": "timestamptz", "f4": "float4",
           "b": "bool", "c": "char(7)", "w": "numeric(5,2)"}
    assert load(cur, schema, ddl, table) == [(i,) + (None,) * len(types) for i in range(n)]


def test_unicode_text_and_large_string(cur: Any, schema: str) -> None:
    values = ["é", "漢字", "😀 emoji", "naïve café", "", None, "x" * 5000]
    table = pa.table({"id": pa.array(range(len(values)), pa.int32()),
                      "s": pa.array(values, pa.string()), "l": pa.array(values, pa.large_string())})
    got = load(cur, schema, {"id": "int4", "s": "text", "l": "varchar"}, table)
    assert got == [(i, v, v) for i, v in enumerate(values)]


@pytest.mark.parametrize(("arrow_type", "column", "values"), [
    (pa.decimal128(12, 6), "numeric(12,6)", ["0", "-0.000001", "123456.123456", "-999999.999999", "0.5"]),
    (pa.decimal128(4, 2), "numeric(4,2)", ["99.99", "-99.99", "0.01", "-0.10", "0"]),
    (pa.decimal128(18, 0), "numeric(18,0)", ["999999999999999999", "-999999999999999999", "0", "1", "-10000"]),
    (pa.decimal128(10, 2), "numeric", ["99999999.99", "-99999999.99", "0.00", "10000.00", "-0.50"]),
    (pa.decimal128(38, 0), "numeric", ["9" * 38, "-" + "9" * 38, "0", "1" + "0" * 37, "-12345678901234567890"]),
    (pa.decimal128(38, 10), "numeric(38,10)", ["9" * 28 + "." + "9" * 10, "-" + "9" * 28 + "." + "9" * 10,
                                               "0.0000000001", "-1.5", "0"]),
    (pa.decimal128(19, 3), "numeric", ["9999999999999999.999", "-9223372036854775.808", "0.001", "-0.001", "1"]),
    (pa.decimal128(3, -2), "numeric", ["99900", "-12300", "0", "100", "-100"]),
    (pa.decimal128(5, 5), "numeric(5,5)", ["0.99999", "-0.00001", "0", "0.5", "-0.12345"]),
])
def test_decimals(cur: Any, schema: str, arrow_type: pa.DataType, column: str, values: list[str]) -> None:
    decimals = [Decimal(v) for v in values] + [None]
    table = pa.table({"id": pa.array(range(len(decimals))), "n": pa.array(decimals, arrow_type)})
    got = load(cur, schema, {"id": "int8", "n": column}, table)
    assert [n for _, n in got] == decimals
    if column.startswith("numeric(") and arrow_type.scale > 0:  # the display scale is the column's
        assert all(n is None or -n.as_tuple().exponent == arrow_type.scale for _, n in got)


def test_decimal_scale_is_kept_in_an_unconstrained_numeric(cur: Any, schema: str) -> None:
    table = pa.table({"id": pa.array([1, 2]), "n": pa.array([Decimal("1.10"), Decimal("-3.00")], pa.decimal128(10, 2))})
    got = load(cur, schema, {"id": "int8", "n": "numeric"}, table)
    assert [str(n) for _, n in got] == ["1.10", "-3.00"]


def test_a_decimal_is_rounded_to_the_column_scale_like_the_server_does(cur: Any, schema: str) -> None:
    table = pa.table({"id": pa.array([1, 2]), "n": pa.array([Decimal("999.994"), Decimal("-1.235")], pa.decimal128(6, 3))})
    assert [n for _, n in load(cur, schema, {"id": "int8", "n": "numeric(5,2)"}, table)] == [Decimal("999.99"), Decimal("-1.24")]


def test_dates_and_timestamps_far_from_the_epochs(cur: Any, schema: str) -> None:
    days = [date(1, 1, 1), date(9999, 12, 31), date(1969, 12, 31), date(1999, 12, 31), date(2000, 1, 1),
            date(1900, 3, 1), date(1582, 10, 15), None]
    moments = [datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999), datetime(1969, 12, 31, 23, 59, 59, 999999),
               datetime(1999, 12, 31, 23, 59, 59, 999999), datetime(2000, 1, 1, 0, 0, 0, 1),
               datetime(1900, 1, 1, 12, 0, 0, 123456), datetime(2024, 6, 30, 12, 34, 56, 789012), None]
    table = pa.table({"id": pa.array(range(len(days))), "d": pa.array(days, pa.date32()),
                      "ts": pa.array(moments, pa.timestamp("us")), "tz": pa.array(moments, pa.timestamp("us")),
                      "aware": pa.array(moments, pa.timestamp("us", tz="UTC")),
                      "berlin": pa.array(moments, pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us", tz="Europe/Berlin"))})
    got = load(cur, schema, {"id": "int8", "d": "date", "ts": "timestamp", "tz": "timestamptz", "aware": "timestamptz",
                             "berlin": "timestamptz"}, table)
    assert [row[1] for row in got] == days
    assert [row[2] for row in got] == moments
    naive_utc = [None if v is None else v.astimezone(UTC).replace(tzinfo=None) for v in (row[3] for row in got)]
    assert naive_utc == moments  # naive values are taken as UTC
    assert [row[4] for row in got] == [row[5] for row in got] == [row[3] for row in got]  # aware: the same instants


def test_dates_and_timestamps_beyond_pythons_range(cur: Any, schema: str) -> None:
    days = [-2_440_588, -800_000, -719_163, 2_932_897, 2_145_042_905]  # 4714-11-24 BC ... 5874897-12-31
    micros = [pg_binary._TIMESTAMP_MIN, -(10**17), -62_135_596_800_000_001, 2**63 - 1, 0]
    table = pa.table({"id": pa.array(range(5)), "d": pa.array(days, pa.int32()).view(pa.date32()),
                      "ts": pa.array(micros).view(pa.timestamp("us"))})
    name = create(cur, schema, {"id": "int8", "d": "date", "ts": "timestamp"})
    copy_binary(cur, name, ["id", "d", "ts"], encoder_for(table.schema, column_types(cur, name, ["id", "d", "ts"])).encode(table))
    cur.execute(sql.SQL("SELECT d - DATE '1970-01-01', (extract(epoch FROM ts) * 1000000)::int8, ts::text FROM {} ORDER BY id")
                .format(sql.SQL(name)))
    got = cur.fetchall()
    assert [row[0] for row in got] == days
    assert [row[1] for row in got[:3]] == micros[:3]  # extract() itself rounds near the int64 end
    assert [row[2] for row in got[3:]] == ["294247-01-10 04:00:54.775807", "1970-01-01 00:00:00"]
    assert got[0][2] == "4714-11-24 00:00:00 BC"


def test_integers_of_every_width_into_every_integer_column(cur: Any, schema: str) -> None:
    table = pa.table({
        "id": pa.array([1, 2, 3], pa.int64()),
        "a": pa.array([-32768, 32767, None], pa.int16()), "b": pa.array([-32768, 32767, 0], pa.int16()),
        "c": pa.array([-32768, 32767, 5], pa.int16()), "d": pa.array([-32768, 32767, None], pa.int32()),
        "e": pa.array([-(2**31), 2**31 - 1, 0], pa.int32()), "f": pa.array([-(2**31), 2**31 - 1, 0], pa.int32()),
        "g": pa.array([-32768, 32767, None], pa.int64()), "h": pa.array([-(2**31), 2**31 - 1, 0], pa.int64()),
        "i": pa.array([-(2**63), 2**63 - 1, 0], pa.int64()),
    })
    ddl = {"id": "int8", "a": "int2", "b": "int4", "c": "int8", "d": "int2", "e": "int4", "f": "int8", "g": "int2",
           "h": "int4", "i": "int8"}
    assert load(cur, schema, ddl, table) == rows_of(table)


def test_floats_with_nan_and_infinities(cur: Any, schema: str) -> None:
    values = [0.1, -2.5, float("nan"), float("inf"), float("-inf"), -0.0, 3.4e38, 1e-40, None]
    table = pa.table({"id": pa.array(range(len(values))), "f8": pa.array(values, pa.float64()),
                      "f4": pa.array(values, pa.float64())})
    got = load(cur, schema, {"id": "int8", "f8": "float8", "f4": "float4"}, table)
    for (_, f8, f4), expected in zip(got, values):
        if expected is None:
            assert f8 is None and f4 is None
        elif math.isnan(expected):
            assert math.isnan(f8) and math.isnan(f4)
        else:
            assert f8 == expected and math.copysign(1, f8) == math.copysign(1, expected)
            assert np.float32(f4) == np.float32(expected)


def test_booleans(cur: Any, schema: str) -> None:
    table = pa.table({"id": pa.array(range(4)), "b": pa.array([True, False, None, True])})
    assert load(cur, schema, {"id": "int8", "b": "bool"}, table) == rows_of(table)


def test_sliced_tables_and_chunked_columns(cur: Any, schema: str) -> None:
    def make(start: int, n: int) -> pa.Table:
        ids = list(range(start, start + n))
        return pa.table({
            "id": pa.array(ids, pa.int64()),
            "s": pa.array([None if i % 3 == 0 else f"s{i}" * (i % 7) for i in ids]),
            "n": pa.array([None if i % 4 == 1 else Decimal(i) / 100 for i in ids], pa.decimal128(10, 2)),
            "d": pa.array([None if i % 5 == 2 else date(2000, 1, 1) + timedelta(days=i) for i in ids]),
            "b": pa.array([None if i % 6 == 3 else i % 2 == 0 for i in ids]),
        })
    ddl = {"id": "int8", "s": "text", "n": "numeric(10,2)", "d": "date", "b": "bool"}
    sliced = make(0, 20).slice(3, 5)
    assert load(cur, schema, ddl, sliced) == rows_of(sliced)
    chunked = pa.concat_tables([make(100, 9).slice(2), make(200, 11).slice(1, 7)])
    assert chunked.column("s").num_chunks == 2
    assert load(cur, schema, ddl, chunked) == rows_of(chunked)
    # columns chunked at different rows, each chunk sliced
    uneven = pa.table({
        "id": pa.chunked_array([pa.array([1, 2, 3, 4, 5]).slice(1), pa.array([6, 7])]),
        "s": pa.chunked_array([pa.array(["a", None]), pa.array(["bb", "ccc", None, "dddd"])]),
        "n": pa.chunked_array([pa.array([Decimal(1), None, Decimal(3)], pa.decimal128(10, 2)),
                               pa.array([Decimal(4), Decimal(5), None, Decimal(7)], pa.decimal128(10, 2)).slice(1)]),
        "d": pa.chunked_array([pa.array([date(2001, 1, 1)] * 5), pa.array([None], pa.date32())]),
        "b": pa.chunked_array([pa.array([True, False, None, True, False, None, True]).slice(1, 6)]),
    })
    assert load(cur, schema, ddl, uneven) == rows_of(uneven)


def test_a_zero_row_table(cur: Any, schema: str) -> None:
    table = pa.table({"id": pa.array([], pa.int64()), "s": pa.array([], pa.string())})
    name = create(cur, schema, {"id": "int8", "s": "text"})
    encoder = encoder_for(table.schema, column_types(cur, name, ["id", "s"]))
    payload = encoder.encode(table)
    assert bytes(payload) == b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8 + b"\xff\xff" == HEADER + TRAILER
    copy_binary(cur, name, ["id", "s"], payload)
    assert select(cur, name, ["id", "s"]) == []


def test_the_payload_layout(cur: Any, schema: str) -> None:
    table = pa.table({"a": pa.array([7, None], pa.int32()), "s": pa.array(["hé", None])})
    payload = bytes(encoder_for(table.schema, [("int4", -1), ("text", -1)]).encode(table))
    rows = (b"\x00\x02" + b"\x00\x00\x00\x04\x00\x00\x00\x07" + b"\x00\x00\x00\x03h\xc3\xa9"
            + b"\x00\x02" + b"\xff\xff\xff\xff" + b"\xff\xff\xff\xff")
    assert payload == HEADER + rows + TRAILER


def test_rows_whose_nulls_leave_a_short_piece(cur: Any, schema: str) -> None:
    # field count + length + int8 is 14 bytes, 6 when the int8 is NULL; then texts of every length around 12
    texts = [None, "", "a" * 12, "b" * 13, "c" * 4, None]
    table = pa.table({"id": pa.array([1, None, 3, None, 5, None], pa.int64()), "s": pa.array(texts),
                      "k": pa.array(range(6), pa.int64())})
    assert load(cur, schema, {"k": "int8", "id": "int8", "s": "text"}, table.select(["k", "id", "s"])) == rows_of(
        table.select(["k", "id", "s"]))


def test_garbage_in_null_slots_is_neither_checked_nor_written(cur: Any, schema: str) -> None:
    validity = pa.py_buffer(np.packbits(np.array([1, 0, 1], dtype=bool), bitorder="little").tobytes())
    ints = pa.Array.from_buffers(pa.int64(), 3, [validity, pa.py_buffer(np.array([1, 2**40, 3], dtype=np.int64).tobytes())])
    texts = pa.Array.from_buffers(pa.string(), 3, [validity, pa.py_buffer(np.array([0, 1, 4, 5], dtype=np.int32).tobytes()),
                                                    pa.py_buffer(b"aXYZb")])
    words = np.array([[150, 0], [2**63, 2**62], [(-5) & (2**64 - 1), 2**64 - 1]], dtype=np.uint64)  # 1.50, junk, -0.05
    decimals = pa.Array.from_buffers(pa.decimal128(4, 2), 3, [validity, pa.py_buffer(words.tobytes())])
    table = pa.table({"k": pa.array([1, 2, 3]), "i": ints, "s": texts, "n": decimals})
    got = load(cur, schema, {"k": "int8", "i": "int4", "s": "text", "n": "numeric(4,2)"}, table)
    assert got == [(1, 1, "a", Decimal("1.50")), (2, None, None, None), (3, 3, "b", Decimal("-0.05"))]


def test_blocks_of_rows_make_the_same_payload(cur: Any, schema: str, monkeypatch: pytest.MonkeyPatch) -> None:
    n = 1000
    table = pa.table({"id": pa.array(range(n)), "s": pa.array([None if i % 10 == 0 else "v" * (i % 30) for i in range(n)]),
                      "n": pa.array([None if i % 7 == 0 else Decimal(i) / 8 for i in range(n)], pa.decimal128(12, 3)),
                      "b": pa.array([None if i % 3 == 0 else i % 2 == 0 for i in range(n)])})
    whole = bytes(encoder_for(table.schema, [("int8", -1), ("text", -1), ("numeric", -1), ("bool", -1)]).encode(table))
    monkeypatch.setattr(pg_binary, "_BLOCK_ROWS", 37)  # many blocks, the last one short
    encoder = encoder_for(table.schema, [("int8", -1), ("text", -1), ("numeric", -1), ("bool", -1)])
    assert bytes(encoder.encode(table)) == whole
    assert load(cur, schema, {"id": "int8", "s": "text", "n": "numeric", "b": "bool"}, table) == rows_of(table)


def test_200k_rows_load_the_same_as_through_csv(cur: Any, schema: str) -> None:
    n = 200_000
    rng = np.random.default_rng(7)
    ids = np.arange(n, dtype=np.int64)

    def nullable(array: pa.Array, share: float = 0.03) -> pa.Array:
        mask = pa.array(rng.random(n) < share)
        return pa.compute.if_else(mask, pa.nulls(n, array.type), array)

    words = np.zeros((n, 2), dtype=np.int64)
    words[:, 0] = rng.integers(-(10**10) + 1, 10**10, n)
    words[:, 1] = words[:, 0] >> 63
    strings = np.char.add(np.array(["mail", "ümlaut", "漢", ""])[rng.integers(0, 4, n)], rng.integers(0, 10**6, n).astype(str))
    table = pa.table({
        "id": pa.array(ids),
        "i4": nullable(pa.array(rng.integers(-(2**31), 2**31, n, dtype=np.int64), pa.int64())),
        "f8": nullable(pa.array(rng.normal(0, 1e6, n))),
        "b": nullable(pa.array(rng.random(n) < 0.5)),
        "d": nullable(pa.array(rng.integers(-719_162, 2_932_897, n).astype(np.int32)).view(pa.date32())),  # years 1-9999
        "ts": nullable(pa.array(rng.integers(-(2**55), 2**55, n)).view(pa.timestamp("us"))),
        "n": nullable(pa.Array.from_buffers(pa.decimal128(12, 2), n, [None, pa.py_buffer(words.tobytes())])),
        "s": nullable(pa.array(strings.astype(object), pa.string())),
        "e": nullable(pa.array(np.where(rng.random(n) < 0.1, "", "x").astype(object), pa.string())),
    })
    ddl = {"id": "int8", "i4": "int8", "f8": "float8", "b": "bool", "d": "date", "ts": "timestamptz", "n": "numeric(12,2)",
           "s": "text", "e": "varchar(3)"}
    ours = create(cur, schema, ddl)
    theirs = create(cur, schema, ddl)
    columns = list(ddl)
    copy_binary(cur, ours, columns, encoder_for(table.schema, column_types(cur, ours, columns)).encode(table))
    text = io.BytesIO()
    pacsv.write_csv(table, text, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    statement = sql.SQL("COPY {} FROM STDIN WITH (FORMAT csv)").format(sql.SQL(theirs)).as_string(cur)
    cur.copy_expert(statement, io.BytesIO(text.getvalue()))
    for left, right in ((ours, theirs), (theirs, ours)):
        cur.execute(sql.SQL("SELECT count(*) FROM (SELECT * FROM {} EXCEPT ALL SELECT * FROM {}) AS d").format(
            sql.SQL(left), sql.SQL(right)))
        assert cur.fetchone()[0] == 0
    cur.execute(sql.SQL("SELECT count(*), count(s), count(*) FILTER (WHERE e = '') FROM {}").format(sql.SQL(ours)))
    total, texts, empties = cur.fetchone()
    assert total == n and texts == n - table.column("s").null_count and empties > 0


# ------------------------------------------------------------------------------------------ values that do not fit


def test_a_value_too_big_for_int4_names_the_column_and_the_value() -> None:
    table = pa.table({"small": pa.array([1, None, 2**31, -5], pa.int64())})
    encoder = encoder_for(table.schema, [("int4", -1)])
    with pytest.raises(ValueError, match=r"column 'small'.*2147483648.*int4"):
        encoder.encode(table)
    with pytest.raises(ValueError, match=r"column 'small'.*-32769.*int2"):
        encoder_for(table.schema, [("int2", -1)]).encode(pa.table({"small": pa.array([0, -32769], pa.int64())}))
    # the same values fit int8
    assert encoder_for(table.schema, [("int8", -1)]).encode(table)


@pytest.mark.parametrize(("arrow_type", "typmod_of", "value"), [
    (pa.decimal128(6, 2), (4, 2), "100.00"),
    (pa.decimal128(6, 3), (5, 2), "999.995"),  # rounds to 1000.00
    (pa.decimal128(20, 0), (18, 0), "-1000000000000000000"),
    (pa.decimal128(38, 2), (10, 2), "-123456789012.34"),
])
def test_a_decimal_that_overflows_its_numeric_column(arrow_type: pa.DataType, typmod_of: tuple[int, int], value: str) -> None:
    precision, scale = typmod_of
    typmod = ((precision << 16) | scale) + 4
    table = pa.table({"price": pa.array([Decimal("1"), None, Decimal(value)], arrow_type)})
    with pytest.raises(ValueError, match=rf"column 'price'.*{value.replace('.', '[.]')}.*numeric\({precision},{scale}\)"):
        encoder_for(table.schema, [("numeric", typmod)]).encode(table)


def test_other_values_that_do_not_fit() -> None:
    floats = pa.table({"f": pa.array([1.0, 1e300])})
    with pytest.raises(ValueError, match=r"column 'f'.*1e\+300.*float4"):
        encoder_for(floats.schema, [("float4", -1)]).encode(floats)
    tiny = pa.table({"f": pa.array([1e-300])})
    with pytest.raises(ValueError, match=r"column 'f'.*float4"):
        encoder_for(tiny.schema, [("float4", -1)]).encode(tiny)
    texts = pa.table({"v": pa.array(["abc", "abc  ", "abcd"])})
    with pytest.raises(ValueError, match=r"column 'v'.*'abcd'.*varchar\(3\)"):
        encoder_for(texts.schema, [("varchar", 3 + 4)]).encode(texts)
    for day in (-2_440_589, 2_145_042_906, -(2**31), 2**31 - 1):  # past PostgreSQL's ends (and its infinities)
        days = pa.table({"d": pa.array([0, day], pa.int32()).view(pa.date32())})
        with pytest.raises(ValueError, match=rf"column 'd'.*{day} days.*date"):
            encoder_for(days.schema, [("date", -1)]).encode(days)
    moments = pa.table({"t": pa.array([0, pg_binary._TIMESTAMP_MIN - 1]).view(pa.timestamp("us"))})
    with pytest.raises(ValueError, match=r"column 't'.*timestamp"):
        encoder_for(moments.schema, [("timestamp", -1)]).encode(moments)
    # values a decimal128(p, s) array should not hold: more than p digits, in the low word or beyond it
    for arrow_type, low, high in ((pa.decimal128(4, 2), 10**6, 0), (pa.decimal128(4, 2), 0, 1),
                                  (pa.decimal128(20, 0), 10**20 % 2**64, 10**20 >> 64)):
        words = np.array([[1, 0], [low, high]], dtype=np.uint64)
        wide = pa.table({"n": pa.Array.from_buffers(arrow_type, 2, [None, pa.py_buffer(words.tobytes())])})
        with pytest.raises(ValueError, match=rf"column 'n'.*more digits than decimal128\({arrow_type.precision}, .*row 1"):
            encoder_for(wide.schema, [("numeric", -1)]).encode(wide)


def test_a_table_of_another_schema_is_refused() -> None:
    encoder = encoder_for(pa.schema([("a", pa.int64())]), [("int8", -1)])
    with pytest.raises(ValueError, match="does not match"):
        encoder.encode(pa.table({"a": pa.array([1], pa.int32())}))


# ------------------------------------------------------------------------------------------- pairs and catalogue


@pytest.mark.parametrize(("arrow_type", "pg_type"), [
    (pa.int64(), "numeric"), (pa.int8(), "int2"), (pa.uint32(), "int8"), (pa.float32(), "float4"),
    (pa.float64(), "numeric"), (pa.string(), "int4"), (pa.binary(), "bytea"), (pa.timestamp("ns"), "timestamp"),
    (pa.timestamp("ms"), "timestamptz"), (pa.timestamp("us", tz="UTC"), "timestamp"), (pa.date32(), "timestamp"),
    (pa.date64(), "date"), (pa.decimal256(40, 2), "numeric"), (pa.decimal128(10, 2), "float8"), (pa.bool_(), "int4"),
    (pa.dictionary(pa.int32(), pa.string()), "text"), (pa.int64(), "my_domain"), (pa.null(), "text"),
    (pa.string_view(), "text"), (pa.list_(pa.int64()), "_int8"),
])
def test_unsupported_pairs_give_none(arrow_type: pa.DataType, pg_type: str) -> None:
    schema = pa.schema([("ok", pa.int64()), ("x", arrow_type)])
    assert encoder_for(schema, [("int8", -1), (pg_type, -1)]) is None
    assert encoder_for(pa.schema([("ok", pa.int64())]), [("int8", -1)]) is not None


def test_column_types_of_a_quoted_mixed_case_table(cur: Any, schema: str) -> None:
    name = qualified(schema, f"Order Items {uuid.uuid4().hex[:6]}")
    cur.execute(sql.SQL('CREATE TABLE {} ("Id" bigint, "Unit Price" numeric(10,2), "note" varchar(40), '
                        '"Code" char(2), "At" timestamptz, "x" int)').format(sql.SQL(name)))
    cur.execute(sql.SQL('ALTER TABLE {} DROP COLUMN "x"').format(sql.SQL(name)))
    types = column_types(cur, name, ["Unit Price", "Id", "note", "Code", "At"])
    assert types == [("numeric", ((10 << 16) | 2) + 4), ("int8", -1), ("varchar", 44), ("bpchar", 6), ("timestamptz", -1)]
    with pytest.raises(LookupError, match="'x'"):
        column_types(cur, name, ["Id", "x"])
    with pytest.raises(LookupError, match="'id'"):  # names are exact
        column_types(cur, name, ["id"])
    with pytest.raises(LookupError, match="does not exist"):
        column_types(cur, qualified(schema, "no such table"), ["Id"])
