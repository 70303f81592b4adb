"""Type inference from text values and CSV format detection."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from etl_studio.core.sources.inference import describe_columns, detect_csv_format, infer_text_type


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "-22", "+300"], "integer"),
        (["01", "2"], "string"),  # a code with a leading zero stays text
        (["0", "10"], "integer"),
        (["12.50", "3.1", "-100.25"], "decimal(5,2)"),
        (["0.5", "0.25"], "decimal(2,2)"),
        (["1", "2.5"], "decimal(2,1)"),
        (["007.5"], "string"),
        (["1e5", "2.5E-3"], "float"),
        (["1", "1.5e3"], "float"),
        (["true", "False", "yes", "N"], "boolean"),
        (["2024-01-31", "1999-12-01"], "date"),
        (["2024-02-30"], "string"),
        (["2024-01-31 10:00:00", "2024-01-31T10:00:00.123+02:00"], "datetime"),
        (["2024-01-31", "2024-01-31 10:00"], "datetime"),
        (["1", "abc"], "string"),
        (["123456789012345678901"], "decimal(21,0)"),
        ([], "string"),
        ([" 12"], "string"),
    ],
)
def test_text_values_get_the_narrowest_type_that_keeps_them(values: list[str], expected: str) -> None:
    assert infer_text_type(values) == expected


def test_describe_columns_ignores_nulls_and_gives_five_distinct_samples() -> None:
    frame = pd.DataFrame(
        {
            "qty": pd.array(["1", None, "2", "2", "3", "4", "5", "6"], dtype="string"),
            "empty": pd.array([None] * 8, dtype="string"),
        }
    )
    qty, empty = describe_columns(frame)
    assert (qty.name, qty.type, qty.samples) == ("qty", "integer", ("1", "2", "3", "4", "5"))
    assert (empty.type, empty.samples) == ("string", ())


def test_typed_columns_keep_their_type_and_samples_read_naturally() -> None:
    frame = pd.DataFrame(
        {
            "id": pd.array([1, None], dtype="Int64"),
            "price": pd.Series(pa.array([decimal.Decimal("1.50"), None], type=pa.decimal128(8, 2)), dtype=pd.ArrowDtype(pa.decimal128(8, 2))),
            "ratio": [0.5, 2.0],
            "ok": pd.array([True, False], dtype="boolean"),
            "day": pd.Series(pa.array([dt.date(2024, 1, 2), None]), dtype=pd.ArrowDtype(pa.date32())),
            "at": pd.to_datetime(["2024-01-02 03:04:05", None]),
            "obj": [decimal.Decimal("10.125"), decimal.Decimal("3")],
        }
    )
    described = {c.name: (c.type, c.samples) for c in describe_columns(frame)}
    assert described == {
        "id": ("integer", ("1",)),
        "price": ("decimal(8,2)", ("1.50",)),
        "ratio": ("float", ("0.5", "2")),
        "ok": ("boolean", ("true", "false")),
        "day": ("date", ("2024-01-02",)),
        "at": ("datetime", ("2024-01-02 03:04:05",)),
        "obj": ("decimal(5,3)", ("10.125", "3")),
    }


def test_detects_a_semicolon_latin1_file_with_header(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    rows = ["name;city;amount"] + [f"Émile {i};Zürich;{i},50" for i in range(50)]
    path.write_bytes("\n".join(rows).encode("cp1252"))
    encoding, delimiter, has_header = detect_csv_format(path)
    assert "Émile;Zürich".encode("cp1252").decode(encoding) == "Émile;Zürich"
    assert delimiter == ";"
    assert has_header


def test_detects_utf8_tab_file_and_falls_back_to_comma(tmp_path: Path) -> None:
    tabbed = tmp_path / "t.tsv"
    tabbed.write_text("id\tname\n1\tJosé\n2\tAna\n", encoding="utf-8")
    assert detect_csv_format(tabbed)[:2] == ("utf-8", "\t")
    single = tmp_path / "one.csv"
    single.write_text("justonecolumn\n", encoding="utf-8")
    assert detect_csv_format(single)[1] == ","
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbfa,b\n1,2\n")
    assert detect_csv_format(bom)[:2] == ("utf-8-sig", ",")


@pytest.mark.parametrize(
    ("content", "has_header"),
    [
        ("name,city\nAnn,Paris\nBob,Oslo\n", True),  # all text: the sniffer alone would guess wrong
        ("id,amount\n1,2.50\n2,3.75\n", True),
        ("1,Ann\n2,Bob\n3,Eve\n", False),
        ("Ann,,Paris\nBob,,Oslo\n", False),
    ],
)
def test_header_detection_prefers_a_header_unless_the_first_line_looks_like_data(
    tmp_path: Path, content: str, has_header: bool
) -> None:
    path = tmp_path / "f.csv"
    path.write_text(content, encoding="utf-8")
    assert detect_csv_format(path)[2] is has_header
