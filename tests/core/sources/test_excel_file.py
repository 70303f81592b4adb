"""The Excel source: a sheet by name or position, values as the text an analyst sees, chunking, errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from etl_studio.core.context import RunContext
from etl_studio.core.errors import ConfigError
from etl_studio.core.sources.excel_file import ExcelFileConfig, ExcelFileSource


def workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def read(context: RunContext, chunk_size: int = 1000, limit: int | None = None, **config: object) -> list[pd.DataFrame]:
    return list(ExcelFileSource.from_spec(config, context).read_chunks(chunk_size, limit))


def test_cells_become_text_as_shown(tmp_path: Path, context: RunContext) -> None:
    workbook(
        tmp_path / "orders.xlsx",
        {
            "Orders": [
                ["id", "code", "amount", "ordered", "at", "paid", "note"],
                [1, "01", 12.5, dt.datetime(2024, 1, 31), dt.datetime(2024, 1, 31, 10, 30), True, None],
                [2.0, "02", 1e20, dt.date(2024, 2, 1), dt.datetime(2024, 2, 1, 0, 0, 1), False, "late"],
            ]
        },
    )
    [chunk] = read(context, path="orders.xlsx")
    assert all(dtype == "string" for dtype in chunk.dtypes)
    assert chunk.to_dict("list") == {
        "id": ["1", "2"],
        "code": ["01", "02"],
        "amount": ["12.5", "1e+20"],
        "ordered": ["2024-01-31", "2024-02-01"],
        "at": ["2024-01-31 10:30:00", "2024-02-01 00:00:01"],
        "paid": ["true", "false"],
        "note": [None, "late"],  # to_dict hands NA over as None
    }


def test_sheet_by_name_or_position_and_header_row(tmp_path: Path, context: RunContext) -> None:
    workbook(tmp_path / "b.xlsx", {"Notes": [["nothing here"]], "Data": [["Report"], [None], ["id", "name"], [1, "Ann"]]})
    [by_name] = read(context, path="b.xlsx", sheet="Data", header_row=2)
    [by_position] = read(context, path="b.xlsx", sheet=1, header_row=2)
    assert by_name.to_dict("list") == by_position.to_dict("list") == {"id": ["1"], "name": ["Ann"]}
    [first] = read(context, path="b.xlsx")
    assert list(first.columns) == ["nothing here"]


def test_no_header_gives_col_n_names(tmp_path: Path, context: RunContext) -> None:
    workbook(tmp_path / "b.xlsx", {"S": [[1, "Ann"], [2, "Bob"]]})
    [chunk] = read(context, path="b.xlsx", header_row=None)
    assert chunk.to_dict("list") == {"col_1": ["1", "2"], "col_2": ["Ann", "Bob"]}


def test_chunks_number_rows_across_the_sheet_and_trailing_blank_rows_are_dropped(tmp_path: Path, context: RunContext) -> None:
    rows: list[list[object]] = [["n"]] + [[i] for i in range(25)]
    rows[11] = [None]  # a blank row inside the data stays a row of NULLs
    rows += [[None], [None]]
    workbook(tmp_path / "n.xlsx", {"S": rows})
    chunks = read(context, chunk_size=10, path="n.xlsx")
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert [c.index[0] for c in chunks] == [0, 10, 20]
    assert pd.concat(chunks)["n"].iloc[10] is pd.NA
    limited = read(context, chunk_size=10, limit=12, path="n.xlsx")
    assert [len(c) for c in limited] == [10, 2] and limited[-1].index[-1] == 11


def test_estimate_rows_from_the_sheet_dimension(tmp_path: Path, context: RunContext) -> None:
    workbook(tmp_path / "n.xlsx", {"S": [["n"]] + [[i] for i in range(40)]})
    assert ExcelFileSource.from_spec({"path": "n.xlsx"}, context).estimate_rows() == 40


def test_header_only_sheet_gives_its_columns(tmp_path: Path, context: RunContext) -> None:
    workbook(tmp_path / "h.xlsx", {"S": [["id", "name"]]})
    [chunk] = read(context, path="h.xlsx")
    assert list(chunk.columns) == ["id", "name"] and chunk.empty


def test_errors_name_what_to_fix(tmp_path: Path, context: RunContext) -> None:
    with pytest.raises(ConfigError, match=f"Excel file not found: {tmp_path / 'x.xlsx'}"):
        read(context, path="x.xlsx")
    workbook(tmp_path / "b.xlsx", {"Data": [["id"], [1, "stray"]]})
    with pytest.raises(ConfigError, match=r"no sheet named 'Sales' \(sheets: Data\)"):
        read(context, path="b.xlsx", sheet="Sales")
    with pytest.raises(ConfigError, match="no sheet number 3"):
        read(context, path="b.xlsx", sheet=3)
    with pytest.raises(ConfigError, match="cell B2 has a value but its column has no header"):
        read(context, path="b.xlsx")
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0 not a zip")
    with pytest.raises(ConfigError, match=r"not a readable .xlsx workbook \(old .xls files: save them as .xlsx first\)"):
        read(context, path="old.xls")


def test_default_config_round_trips() -> None:
    config = ExcelFileConfig()
    assert ExcelFileConfig.model_validate_json(config.model_dump_json()) == config
    assert ExcelFileConfig.model_validate_json('{"sheet": "Data"}').sheet == "Data"
    assert all(field.description for field in ExcelFileConfig.model_fields.values())


def test_empty_sheet_gives_nothing(tmp_path: Path, context: RunContext) -> None:
    workbook(tmp_path / "e.xlsx", {"Empty": []})
    assert read(context, path="e.xlsx") == []
    assert read(context, path="e.xlsx", header_row=None) == []
