"""The same expression rendered for PostgreSQL, MySQL/MariaDB and SQLite."""

from __future__ import annotations

import sqlite3

import pytest

from etl_studio.core.expressions import SqlRenderError, compile_expression

COLUMNS = ["name", "qty", "price", "d", "Order Date"]
TYPES = {"qty": "integer", "price": "decimal(10,2)", "d": "date"}


def sql(text: str, dialect: str) -> str:
    return compile_expression(text, COLUMNS, params=["run_date"]).to_sql(dialect, column_types=TYPES)


@pytest.mark.parametrize(
    ("text", "postgres", "mysql", "sqlite"),
    [
        ("lower(trim(name))", 'LOWER(TRIM("name"))', "LOWER(TRIM(`name`))", 'LOWER(TRIM("name"))'),
        ("NAME LIKE 'a%'", "\"name\" LIKE 'a%'", "`name` COLLATE utf8mb4_bin LIKE 'a%'", "\"name\" GLOB 'a*'"),
        ("name ILIKE 'a%'", "\"name\" ILIKE 'a%'", "LOWER(`name`) LIKE LOWER('a%')", "LOWER(\"name\") LIKE LOWER('a%') ESCAPE '\\'"),
        ("qty / 2", '"qty" / 2', "`qty` DIV 2", '"qty" / 2'),
        ("price / 2", '"price" / 2', "`price` / 2", '"price" / 2'),
        ("concat(name, qty)", "(COALESCE(\"name\", '') || COALESCE(\"qty\", ''))", "CONCAT(COALESCE(`name`, ''), COALESCE(`qty`, ''))", "(COALESCE(\"name\", '') || COALESCE(\"qty\", ''))"),
        ("name || 'x'", "\"name\" || 'x'", "CONCAT(`name`, 'x')", "\"name\" || 'x'"),
        ("\"Order Date\" IS NULL", '"Order Date" IS NULL', "`Order Date` IS NULL", '"Order Date" IS NULL'),
        ("d >= :run_date", '"d" >= :run_date', "`d` >= :run_date", '"d" >= :run_date'),
        ("d + 1", '"d" + 1', "DATE_ADD(`d`, INTERVAL '1' DAY)", "DATE(\"d\", '+' || 1 || ' days')"),
        ("round(qty * price * 0.95, 2)", 'ROUND("qty" * "price" * 0.95, 2)', "ROUND(`qty` * `price` * 0.95, 2)", 'ROUND("qty" * "price" * 0.95, 2)'),
        ("year(d)", 'CAST(EXTRACT(YEAR FROM "d") AS INT)', "EXTRACT(YEAR FROM `d`)", "CAST(STRFTIME('%Y', \"d\") AS INTEGER)"),
    ],
)
def test_rendering_per_dialect(text: str, postgres: str, mysql: str, sqlite: str) -> None:
    assert sql(text, "postgres") == postgres
    assert sql(text, "mysql") == mysql
    assert sql(text, "sqlite") == sqlite


def test_regexp_replace_replaces_every_match_in_postgres_and_cannot_run_in_sqlite() -> None:
    assert sql("regexp_replace(name, 'a', 'b')", "postgres") == "REGEXP_REPLACE(\"name\", 'a', 'b', 'g')"
    with pytest.raises(SqlRenderError):
        sql("regexp_replace(name, 'a', 'b')", "sqlite")


def test_unknown_dialect_is_a_clear_error() -> None:
    with pytest.raises(SqlRenderError, match="unknown SQL dialect"):
        sql("qty", "oracle")


def test_sqlite_computes_what_pandas_computes() -> None:
    con = sqlite3.connect(":memory:")
    con.execute('CREATE TABLE t (name TEXT, qty INTEGER, d TEXT)')
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", [("Anna", 7, "2024-01-31"), ("anna", -7, "2024-02-28"), (None, 3, None)])
    for text in ("name LIKE 'A%'", "qty / 2", "concat(name, qty)", "d + 1", "year(d)", "name NOT LIKE 'a_na'"):
        rendered = compile_expression(text, ["name", "qty", "d"]).to_sql("sqlite", column_types={"qty": "integer", "d": "date"})
        got = [row[0] for row in con.execute(f"SELECT {rendered} FROM t ORDER BY rowid")]
        import pandas as pd

        df = pd.DataFrame({"name": ["Anna", "anna", None], "qty": [7, -7, 3], "d": pd.Series(["2024-01-31", "2024-02-28", None]).astype("string")})
        df["d"] = pd.to_datetime(df["d"]).dt.date.astype("object")
        expected = compile_expression(text, df.columns).evaluate(df).values.tolist()
        normal = [None if v is pd.NA else (v.isoformat() if hasattr(v, "isoformat") else (int(v) if isinstance(v, bool) else v)) for v in expected]
        assert got == normal, text
