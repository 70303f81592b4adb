"""Binary COPY encoder against Arrow's CSV writer: encode time, then COPY time into a fresh typed table.

    python tests/benchmarks/encode_copy.py [--rows 1000000] [--repeat 5] [--pg-url URL] [--no-copy]

Builds an orders-like Arrow table in memory (int64 order_id, date32 order_date, int64 customer_id, string
e-mail of about 28 characters, 2-letter country, product of about 8 characters, int64 quantity,
decimal128(10,2) unit_price, decimal128(4,2) discount; about 2 % NULLs in every column but order_id), then

* encodes it with ``pg_binary.BinaryCopyEncoder.encode`` and with ``pyarrow.csv.write_csv(...,
  WriteOptions(include_header=False, quoting_style="needed"))`` into a BytesIO, alternating, after one
  untimed warm-up of each (the first touch of fresh memory is slow on a VM and says nothing about either);
* COPYs each payload (``FORMAT binary`` / ``FORMAT csv``) into a fresh typed table, alternating, timing
  only ``copy_expert``; then checks both tables hold the same rows (EXCEPT ALL both ways).

Medians of the repeats and the binary/CSV ratios are printed; the last line is machine-readable:

    encode_ratio=<x> copy_ratio=<y> total_ratio=<z>

The URL comes from ETL_STUDIO_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test).
The machine is shared: compare the ratios of one run, not seconds across runs.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO))

from etl_studio.core.targets.pg_binary import column_types, encoder_for  # noqa: E402

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
SCHEMA = "etl_bench_encode"
COPY_READ_SIZE = 1 << 18  # what the loader hands psycopg2 per read
NULL_SHARE = 0.02

# Server types of the typed table: int64 columns go to bigint and integer (the encoder range-checks those).
DDL = {
    "order_id": "bigint", "order_date": "date", "customer_id": "integer", "customer_email": "text",
    "country": "text", "product": "text", "quantity": "integer", "unit_price": "numeric(10,2)",
    "discount": "numeric(4,2)",
}

_FIRST = ["anna", "ben", "carla", "david", "eva", "felix", "greta", "hans", "ines", "jonas", "karin", "lukas"]
_LAST = ["meyer", "schmidt", "dubois", "rossi", "garcia", "smith", "jansen", "nowak", "berg", "keller"]
_DOMAINS = ["example.com", "mail.example.org", "shop.example.net", "corp.example.de"]
_COUNTRIES = ["DE", "FR", "US", "GB", "NL", "ES", "IT", "PL", "SE", "CH", "AT", "BE"]
_PRODUCTS = ["Widget", "Gadget", "Gizmo Pro", "Sprocket", "Doohicky", "Flange", "Gear Set", "Bracket", "Valve",
             "Cable 2m", "Adapter", "Sensor"]


def _decimal(unscaled: np.ndarray, precision: int, scale: int) -> pa.Array:
    words = np.empty((len(unscaled), 2), dtype=np.int64)
    words[:, 0] = unscaled
    words[:, 1] = unscaled >> 63
    return pa.Array.from_buffers(pa.decimal128(precision, scale), len(unscaled), [None, pa.py_buffer(words.tobytes())])


def orders(rows: int, seed: int = 42) -> pa.Table:
    """The orders table, built with vector operations (a second or so for 1M rows)."""
    rng = np.random.default_rng(seed)

    def pick(values: list[str]) -> pa.Array:
        return pc.take(pa.array(values), pa.array(rng.integers(0, len(values), rows)))

    def with_nulls(array: pa.Array) -> pa.Array:
        return pc.if_else(pa.array(rng.random(rows) < NULL_SHARE), pa.nulls(rows, array.type), array)

    numbers = pc.cast(pa.array(rng.integers(1, 1000, rows)), pa.string())
    email = pc.binary_join_element_wise(pick(_FIRST), ".", pick(_LAST), numbers, "@", pick(_DOMAINS), "")
    columns = {
        "order_id": pa.array(np.arange(1, rows + 1, dtype=np.int64)),
        "order_date": pa.array(rng.integers(18_000, 20_500, rows).astype(np.int32)).view(pa.date32()),
        "customer_id": pa.array(rng.integers(1, 200_000, rows)),
        "customer_email": email,
        "country": pick(_COUNTRIES),
        "product": pick(_PRODUCTS),
        "quantity": pa.array(rng.integers(1, 50, rows)),
        "unit_price": _decimal(rng.integers(99, 100_000_00, rows), 10, 2),
        "discount": _decimal(rng.choice(np.array([0, 5, 10, 15, 20, 25], dtype=np.int64), rows), 4, 2),
    }
    return pa.table({name: array if name == "order_id" else with_nulls(array) for name, array in columns.items()})


def encode_csv(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return buffer.getbuffer()


def timed(action: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def connect(url: str) -> Any:
    import psycopg2
    import sqlalchemy as sa

    connection = psycopg2.connect(sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
    connection.autocommit = True
    return connection


def fresh_table(cur: Any, name: str) -> str:
    from psycopg2 import sql

    table = sql.Identifier(SCHEMA, name)
    cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
    cur.execute(sql.SQL("CREATE TABLE {} ({})").format(table, sql.SQL(", ").join(
        sql.SQL("{} " + ddl).format(sql.Identifier(column)) for column, ddl in DDL.items())))
    return table.as_string(cur)


def copy_in(cur: Any, table: str, form: str, payload: Any) -> float:
    source = io.BytesIO(payload)  # prepared outside the timing
    statement = f"COPY {table} FROM STDIN WITH (FORMAT {form})"  # identifiers quoted by psycopg2.sql, no values
    seconds, _ = timed(lambda: cur.copy_expert(statement, source, size=COPY_READ_SIZE))
    return seconds


def median(values: list[float]) -> float:
    return statistics.median(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--pg-url", default=os.environ.get("ETL_STUDIO_TEST_POSTGRES_URL", DEFAULT_PG_URL))
    parser.add_argument("--no-copy", action="store_true", help="only time the encoders")
    args = parser.parse_args(argv)

    seconds, table = timed(lambda: orders(args.rows, args.seed))
    print(f"table: {args.rows:,} rows, {table.nbytes / 1e6:.0f} MB in Arrow, built in {seconds:.2f} s")

    connection = None if args.no_copy else connect(args.pg_url)
    if connection is not None:
        with connection.cursor() as cur:
            cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')
            types = column_types(cur, fresh_table(cur, "orders_binary"), list(DDL))
    else:
        types = [("int8", -1), ("date", -1), ("int4", -1), ("text", -1), ("text", -1), ("text", -1), ("int4", -1),
                 ("numeric", ((10 << 16) | 2) + 4), ("numeric", ((4 << 16) | 2) + 4)]
    encoder = encoder_for(table.schema, types)
    if encoder is None:
        print("encoder_for returned None for these types", types)
        return 1

    first_binary, binary = timed(lambda: encoder.encode(table))
    first_csv, text = timed(lambda: encode_csv(table))
    encode_times: dict[str, list[float]] = {"binary": [], "csv": []}
    for _ in range(args.repeat):  # the previous payload is released first, as a loader's would be
        binary = None
        seconds, binary = timed(lambda: encoder.encode(table))
        encode_times["binary"].append(seconds)
        text = None
        seconds, text = timed(lambda: encode_csv(table))
        encode_times["csv"].append(seconds)
    print(f"payload: binary {len(binary) / 1e6:.1f} MB, csv {len(text) / 1e6:.1f} MB")
    print(f"first call (untimed warm-up): binary {first_binary:.3f} s, csv {first_csv:.3f} s")
    encode_b, encode_c = median(encode_times["binary"]), median(encode_times["csv"])
    print(f"encode  median of {args.repeat}: binary {encode_b:.3f} s   csv {encode_c:.3f} s   "
          f"ratio {encode_b / encode_c:.2f}x   (binary {', '.join(f'{t:.3f}' for t in encode_times['binary'])}; "
          f"csv {', '.join(f'{t:.3f}' for t in encode_times['csv'])})")
    if connection is None:
        print(f"encode_ratio={encode_b / encode_c:.3f}")
        return 0

    copy_times: dict[str, list[float]] = {"binary": [], "csv": []}
    with connection.cursor() as cur:
        for _ in range(args.repeat):
            copy_times["binary"].append(copy_in(cur, fresh_table(cur, "orders_binary"), "binary", binary))
            copy_times["csv"].append(copy_in(cur, fresh_table(cur, "orders_csv"), "csv", text))
        cur.execute(f'SELECT count(*) FROM "{SCHEMA}"."orders_binary"')
        loaded = cur.fetchone()[0]
        differences = []
        for left, right in (("orders_binary", "orders_csv"), ("orders_csv", "orders_binary")):
            cur.execute(f'SELECT count(*) FROM (SELECT * FROM "{SCHEMA}"."{left}" EXCEPT ALL '
                        f'SELECT * FROM "{SCHEMA}"."{right}") AS d')
            differences.append(cur.fetchone()[0])
        cur.execute(f'DROP SCHEMA "{SCHEMA}" CASCADE')
    connection.close()
    copy_b, copy_c = median(copy_times["binary"]), median(copy_times["csv"])
    print(f"COPY    median of {args.repeat}: binary {copy_b:.3f} s   csv {copy_c:.3f} s   ratio {copy_b / copy_c:.2f}x   "
          f"(binary {', '.join(f'{t:.3f}' for t in copy_times['binary'])}; "
          f"csv {', '.join(f'{t:.3f}' for t in copy_times['csv'])})")
    total_b, total_c = encode_b + copy_b, encode_c + copy_c
    print(f"encode + COPY:               binary {total_b:.3f} s   csv {total_c:.3f} s   ratio {total_b / total_c:.2f}x")
    same = loaded == args.rows and differences == [0, 0]
    print(f"rows loaded: {loaded:,}; binary and csv tables {'hold the same rows' if same else f'DIFFER: {differences}'}")
    print(f"encode_ratio={encode_b / encode_c:.3f} copy_ratio={copy_b / copy_c:.3f} total_ratio={total_b / total_c:.3f}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
