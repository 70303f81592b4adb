"""Deterministic orders-like CSV files for the benchmarks: messy the way real exports are, cached by size and seed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

COLUMNS = ["order_id", "order_date", "customer_id", "customer_email", "country", "product", "quantity", "unit_price", "discount"]
# Bump when the generated content changes, so that cached files of an older shape are not reused.
GENERATOR_VERSION = 1
DEFAULT_SEED = 42
_BLOCK_ROWS = 500_000  # rows turned into text at a time: bounds the generator's memory at 5M rows

_FIRST = ["anna", "ben", "carla", "david", "eva", "felix", "greta", "hans", "ines", "jonas", "karin", "lukas",
          "maria", "nils", "olga", "paul", "quinn", "rosa", "sven", "tina", "ulla", "victor", "wanda", "yusuf"]
_LAST = ["meyer", "schmidt", "dubois", "rossi", "garcia", "smith", "jansen", "nowak", "berg", "keller",
         "martin", "bianchi", "lopez", "brown", "visser", "kowalski", "lund", "huber", "moreau", "ricci"]
_DOMAINS = ["example.com", "mail.example.org", "shop.example.net", "corp.example.de", "customers.example.co.uk"]
_COUNTRIES = ["DE", "FR", "US", "GB", "NL", "ES", "IT", "PL", "SE", "CH", "AT", "BE"]
_PRODUCTS = ["Widget", "Gadget", "Gizmo Pro", "Sprocket", "Doohickey", "Flange", "Gear Set", "Bracket",
             "Valve", "Cable 2m", "Adapter", "Sensor", "Hinge", "Bolt Pack", "Spring", "Lever"]
_DISCOUNTS = ["0.05", "0.10", "0.15", "0.20", "0.25", "0"]
# Cells an export writes for "no value"; the cleaning pipeline turns them into NULL.
_NULL_TOKENS = ["N/A", "NULL", "-", "n/a"]


def data_path(folder: Path, rows: int, seed: int = DEFAULT_SEED) -> Path:
    return folder / f"orders_{rows}_s{seed}_v{GENERATOR_VERSION}.csv"


def data_file(folder: Path, rows: int, seed: int = DEFAULT_SEED) -> Path:
    """The CSV of ``rows`` data rows, generated once per (rows, seed, generator version)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = data_path(folder, rows, seed)
    if path.exists():
        return path
    partial = path.with_suffix(".csv.partial")
    generate(partial, rows, seed)
    os.replace(partial, path)  # a killed generator never leaves a half file under the cached name
    return path


def _pick(rng: np.random.Generator, rows: int, share: float) -> np.ndarray:
    return rng.random(rows) < share


def _text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _choose(choices: list[str], index: np.ndarray) -> pa.Array:
    return pc.take(pa.array(choices, pa.string()), pa.array(index))


def _replace(column: pa.Array, where: np.ndarray, by: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(where), by, column)


def _pad(column: pa.Array, where: np.ndarray, left: np.ndarray) -> pa.Array:
    """Surround some cells with spaces (leading, trailing or both) as hand-kept exports do."""
    padded_left = pc.binary_join_element_wise("  ", column, "")
    padded_right = pc.binary_join_element_wise(column, " ", "")
    both = pc.binary_join_element_wise(" ", column, "\t", "")
    column = _replace(column, where & (left == 0), padded_left)
    column = _replace(column, where & (left == 1), padded_right)
    return _replace(column, where & (left == 2), both)


def generate(path: Path, rows: int, seed: int = DEFAULT_SEED) -> None:
    """Write the file. Every random draw is made for all rows up front, so a row's content
    depends only on (rows, seed), never on the block size."""
    rng = np.random.default_rng(seed)
    # Which earlier row each row repeats (about 1 % exact duplicates, some far back so that
    # they fall into an earlier chunk of a run and test dedupe across chunks).
    source_row = np.arange(rows, dtype=np.int64)
    dup = _pick(rng, rows, 0.01)
    dup[0] = False
    back = np.minimum(rng.integers(1, 300_000, rows), source_row)
    source_row[dup] = source_row[dup] - np.maximum(back[dup], 1)

    days = rng.integers(0, 730, rows).astype("int32")
    customer = rng.integers(1, 50_001, rows).astype("int32")
    quantity = rng.integers(1, 21, rows).astype("int16")
    cents = rng.integers(50, 100_000, rows).astype("int32")
    discount = rng.integers(0, len(_DISCOUNTS), rows).astype("int8")
    no_discount = _pick(rng, rows, 0.55)
    country = rng.integers(0, len(_COUNTRIES), rows).astype("int8")
    product = rng.integers(0, len(_PRODUCTS), rows).astype("int8")
    # Messiness, drawn per source row so that duplicates stay exact copies.
    mess = {
        "date_pad": _pick(rng, rows, 0.005),
        "email_pad": _pick(rng, rows, 0.05),
        "email_upper": _pick(rng, rows, 0.03),
        "email_bad": _pick(rng, rows, 0.02),
        "email_null": _pick(rng, rows, 0.01),
        "country_pad": _pick(rng, rows, 0.03),
        "country_null": _pick(rng, rows, 0.015),
        "product_pad": _pick(rng, rows, 0.02),
        "quantity_pad": _pick(rng, rows, 0.02),
        "discount_token": _pick(rng, rows, 0.02),
    }
    pad_side = rng.integers(0, 3, rows).astype("int8")
    token = rng.integers(0, len(_NULL_TOKENS), rows).astype("int8")
    bad_kind = rng.integers(0, 4, rows).astype("int8")

    epoch = np.datetime64("2023-01-01", "D")
    write_options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    with open(path, "wb") as handle:
        handle.write((",".join(COLUMNS) + "\n").encode())
        for start in range(0, rows, _BLOCK_ROWS):
            take = source_row[start : start + _BLOCK_ROWS]

            def at(values: np.ndarray) -> np.ndarray:
                return values[take]

            side, tok = at(pad_side), at(token)
            order_id = _text(take + 1)
            order_date = pc.strftime(pa.array(epoch + at(days)), format="%Y-%m-%d")
            order_date = _pad(order_date, at(mess["date_pad"]), side)
            cust = at(customer)
            email = pc.binary_join_element_wise(
                _choose(_FIRST, cust % len(_FIRST)), ".", _choose(_LAST, (cust // 7) % len(_LAST)), _text(cust % 10000), "@",
                _choose(_DOMAINS, cust % len(_DOMAINS)), "",
            )
            email = _replace(email, at(mess["email_upper"]), pc.utf8_upper(email))
            bad = at(mess["email_bad"])
            broken = [
                pc.replace_substring(email, "@", " at "),  # no @ at all
                pc.replace_substring(email, "@", "@@"),
                pc.replace_substring_regex(email, "@.*$", "@"),  # nothing after @
                pc.replace_substring_regex(email, r"\.[a-z]+$", ""),  # no top-level domain
            ]
            kind = at(bad_kind)
            for number, variant in enumerate(broken):
                email = _replace(email, bad & (kind == number), variant)
            email = _pad(email, at(mess["email_pad"]), side)
            email = _replace(email, at(mess["email_null"]), _choose(["", "N/A", "", "NULL"], tok))
            country_col = _choose(_COUNTRIES, at(country))
            country_col = _pad(country_col, at(mess["country_pad"]), side)
            country_col = _replace(country_col, at(mess["country_null"]), _choose(["", "N/A", "-", ""], tok))
            product_col = _pad(_choose(_PRODUCTS, at(product)), at(mess["product_pad"]), side)
            quantity_col = _pad(_text(at(quantity)), at(mess["quantity_pad"]), side)
            c = at(cents)
            price = pc.binary_join_element_wise(_text(c // 100), pc.utf8_lpad(_text(c % 100), 2, "0"), ".")
            discount_col = _choose(_DISCOUNTS, at(discount))
            discount_col = _replace(discount_col, at(no_discount), pa.array([""] * len(take), pa.string()))
            discount_col = _replace(discount_col, at(mess["discount_token"]), _choose(_NULL_TOKENS, tok))
            table = pa.table(
                [order_id, order_date, _text(cust), email, country_col, product_col, quantity_col, price, discount_col],
                names=COLUMNS,
            )
            pacsv.write_csv(table, handle, write_options)


if __name__ == "__main__":
    # python bench_data.py ROWS FOLDER [SEED]: run.py generates through this, so that its own
    # process stays small (a forked child inherits the parent's ru_maxrss).
    import sys
    import time

    started = time.perf_counter()
    out = data_file(Path(sys.argv[2]), int(sys.argv[1]), int(sys.argv[3]) if len(sys.argv) > 3 else DEFAULT_SEED)
    print(f"{out.stat().st_size / int(sys.argv[1]):.1f} bytes/row, {time.perf_counter() - started:.1f} s")
    print(out)
