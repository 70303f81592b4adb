"""The CSV source: text columns, NULL tokens, every option, chunking with row numbers, clear errors."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from etl_studio.core.context import RunContext
from etl_studio.core.errors import ConfigError, RunCancelled
from etl_studio.core.plugins import load_builtin_plugins, sources
from etl_studio.core.sources.csv_file import CsvFileConfig, CsvFileSource


def read(context: RunContext, chunk_size: int = 1000, limit: int | None = None, **config: object) -> list[pd.DataFrame]:
    return list(CsvFileSource.from_spec(config, context).read_chunks(chunk_size, limit))


def test_registered_under_csv_file_and_default_config_validates() -> None:
    load_builtin_plugins()
    assert sources.get("csv_file") is CsvFileSource
    assert CsvFileSource.kind == "csv_file"
    config = CsvFileConfig()
    assert CsvFileConfig.model_validate_json(config.model_dump_json()) == config
    assert all(field.description for field in CsvFileConfig.model_fields.values())


def test_codes_stay_text_and_empty_fields_are_null(tmp_path: Path, context: RunContext) -> None:
    (tmp_path / "customers.csv").write_text("code,name,amount\n01,Ann,12.50\n002,,7\n3,Bob,\n", encoding="utf-8")
    [chunk] = read(context, path="customers.csv")
    assert list(chunk.columns) == ["code", "name", "amount"]
    assert all(dtype == "string" for dtype in chunk.dtypes)
    assert chunk["code"].tolist() == ["01", "002", "3"]
    assert chunk["name"].isna().tolist() == [False, True, False]
    assert chunk["amount"].iloc[2] is pd.NA
    assert list(chunk.index) == [0, 1, 2]


def test_chunks_continue_the_row_numbers(tmp_path: Path, context: RunContext) -> None:
    (tmp_path / "n.csv").write_text("n\n" + "".join(f"{i}\n" for i in range(2500)), encoding="utf-8")
    chunks = read(context, chunk_size=1000, path="n.csv")
    assert [len(c) for c in chunks] == [1000, 1000, 500]
    assert chunks[1].index[0] == 1000 and chunks[2].index[-1] == 2499
    assert pd.concat(chunks)["n"].tolist() == [str(i) for i in range(2500)]
    assert all((c.index == c["n"].astype(int)).all() for c in chunks)


def test_limit_stops_early_and_may_cut_a_chunk(tmp_path: Path, context: RunContext) -> None:
    (tmp_path / "n.csv").write_text("n\n" + "".join(f"{i}\n" for i in range(5000)), encoding="utf-8")
    chunks = read(context, chunk_size=300, limit=700, path="n.csv")
    assert [len(c) for c in chunks] == [300, 300, 100]
    assert chunks[-1].index[-1] == 699
    assert [len(c) for c in read(context, chunk_size=1000, limit=200, path="n.csv")] == [200]


def test_null_values_tokens_are_exact(tmp_path: Path, context: RunContext) -> None:
    (tmp_path / "n.csv").write_text("a,b\nNULL,\nn/a,x\nnull,N/A\n", encoding="utf-8")
    [chunk] = read(context, path="n.csv", null_values=["NULL", "N/A"])
    assert chunk["a"].tolist()[1:] == ["n/a", "null"] and chunk["a"].iloc[0] is pd.NA
    assert chunk["b"].iloc[0] == "" and chunk["b"].iloc[2] is pd.NA
    [nothing_null] = read(context, path="n.csv", null_values=[])
    assert not nothing_null.isna().any().any()


def test_delimiter_quote_and_escape_characters(tmp_path: Path, context: RunContext) -> None:
    (tmp_path / "semi.csv").write_text("a;b\n'x;y';\"q\"\n'it''s';2\n", encoding="utf-8")
    [chunk] = read(context, path="semi.csv", delimiter=";", quote_char="'")
    assert chunk.to_dict("list") == {"a": ["x;y", "it's"], "b": ['"q"', "2"]}
    (tmp_path / "esc.csv").write_text('a,b\n"say \\"hi\\"",1\n', encoding="utf-8")
    [escaped] = read(context, path="esc.csv", escape_char="\\")
    assert escaped["a"].iloc[0] == 'say "hi"'
    (tmp_path / "raw.csv").write_text('a,b\n"x",1\n', encoding="utf-8")
    [unquoted] = read(context, path="raw.csv", quote_char=None)
    assert unquoted["a"].iloc[0] == '"x"'


def test_quoted_values_may_hold_newlines(tmp_path: Path, context: RunContext) -> None:
    (tmp_path / "m.csv").write_text('id,note\n1,"two\nlines"\n2,plain\n', encoding="utf-8")
    [chunk] = read(context, path="m.csv")
    assert chunk["note"].tolist() == ["two\nlines", "plain"]


def test_header_row_skips_lines_above_and_rows_after(tmp_path: Path, context: RunContext) -> None:
    (tmp_path / "report.csv").write_text("Sales report\nexported today\nid,name\nint,text\n1,Ann\n2,Bob\n", encoding="utf-8")
    [chunk] = read(context, path="report.csv", header_row=2, skip_rows_after_header=1)
    assert chunk.to_dict("list") == {"id": ["1", "2"], "name": ["Ann", "Bob"]}


def test_no_header_names_columns_col_n(tmp_path: Path, context: RunContext) -> None:
    (tmp_path / "plain.csv").write_text("1,Ann\n2,Bob\n", encoding="utf-8")
    [chunk] = read(context, path="plain.csv", header_row=None)
    assert chunk.to_dict("list") == {"col_1": ["1", "2"], "col_2": ["Ann", "Bob"]}


def test_blank_and_repeated_header_names_are_made_unique(tmp_path: Path, context: RunContext) -> None:
    (tmp_path / "h.csv").write_text("id,,id\n1,2,3\n", encoding="utf-8")
    [chunk] = read(context, path="h.csv")
    assert list(chunk.columns) == ["id", "col_2", "id_2"]


def test_columns_subset_in_file_order(tmp_path: Path, context: RunContext) -> None:
    (tmp_path / "c.csv").write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    [chunk] = read(context, path="c.csv", columns=["c", "a"])
    assert chunk.to_dict("list") == {"a": ["1"], "c": ["3"]}
    with pytest.raises(ConfigError, match=r"no column 'z' \(the file has: a, b, c\)"):
        read(context, path="c.csv", columns=["z"])


def test_encodings_named_and_detected(tmp_path: Path, context: RunContext) -> None:
    (tmp_path / "latin.csv").write_bytes("name;city\nJosé;Zürich\nRenée;Besançon\n".encode("cp1252"))
    [named] = read(context, path="latin.csv", delimiter=";", encoding="cp1252")
    [detected] = read(context, path="latin.csv", delimiter="auto", encoding="auto")
    assert named["city"].tolist() == detected["city"].tolist() == ["Zürich", "Besançon"]
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbfid,name\n1,Ann\n")
    [bom] = read(context, path="bom.csv")
    assert list(bom.columns) == ["id", "name"]


def test_header_only_file_gives_its_columns_and_empty_file_gives_nothing(tmp_path: Path, context: RunContext) -> None:
    (tmp_path / "h.csv").write_text("id,name\n", encoding="utf-8")
    [chunk] = read(context, path="h.csv")
    assert list(chunk.columns) == ["id", "name"] and len(chunk) == 0
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    assert read(context, path="empty.csv") == []


def test_columns_for_the_editor_infer_types_from_text(tmp_path: Path, context: RunContext) -> None:
    (tmp_path / "t.csv").write_text("code,qty,price,day\n01,1,1.50,2024-01-02\n02,2,10.25,2024-01-03\n", encoding="utf-8")
    columns = CsvFileSource.from_spec({"path": "t.csv"}, context).columns()
    assert [(c.name, c.type) for c in columns] == [("code", "string"), ("qty", "integer"), ("price", "decimal(4,2)"), ("day", "date")]


def test_estimate_rows_is_close_without_reading_the_file(tmp_path: Path, context: RunContext) -> None:
    (tmp_path / "big.csv").write_text("id,name\n" + "".join(f"{i},name number {i}\n" for i in range(100_000)), encoding="utf-8")
    estimate = CsvFileSource.from_spec({"path": "big.csv"}, context).estimate_rows()
    assert estimate is not None and 80_000 <= estimate <= 125_000  # early rows are shorter: rough is fine
    (tmp_path / "small.csv").write_text("id\n1\n2\n3\n", encoding="utf-8")
    assert CsvFileSource.from_spec({"path": "small.csv"}, context).estimate_rows() == 3
    assert CsvFileSource.from_spec({"path": "missing.csv"}, context).estimate_rows() is None


def test_missing_file_says_the_resolved_path(tmp_path: Path, context: RunContext) -> None:
    with pytest.raises(ConfigError, match=f"CSV file not found: {tmp_path / 'data' / 'nope.csv'}"):
        read(context, path="data/nope.csv")
    with pytest.raises(ConfigError, match="no CSV file chosen"):
        read(context)


def test_undecodable_bytes_name_the_encoding_line_and_suggest_auto(tmp_path: Path, context: RunContext) -> None:
    (tmp_path / "latin.csv").write_bytes("id,city\n1,Paris\n2,Zürich\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r'not valid utf-8 text on line 3; set the encoding to "auto"'):
        read(context, path="latin.csv")
    (tmp_path / "header.csv").write_bytes("cité\n1\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not valid ascii text on line 1"):
        read(context, path="header.csv", encoding="ascii")


def test_ragged_row_names_its_line(tmp_path: Path, context: RunContext) -> None:
    rows = "".join(f"{i},x\n" for i in range(5000))
    (tmp_path / "r.csv").write_text(f"note\nid,name\n{rows}5000,x,extra\n5001,y\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="r.csv: line 5003 has 3 fields but the header has 2"):
        read(context, chunk_size=100, path="r.csv", header_row=1)


def test_bad_settings_are_refused_when_the_config_is_read() -> None:
    with pytest.raises(ValidationError, match="one character"):
        CsvFileConfig(delimiter=";;")
    with pytest.raises(ValidationError, match="unknown encoding"):
        CsvFileConfig(encoding="utf-9")
    with pytest.raises(ValidationError):
        CsvFileConfig(header_row=-1)
    with pytest.raises(ValidationError):
        CsvFileConfig(pathh="typo.csv")  # type: ignore[call-arg]
    assert CsvFileConfig(quote_char="").quote_char is None


def test_cancel_stops_between_chunks(tmp_path: Path) -> None:
    (tmp_path / "n.csv").write_text("n\n" + "".join(f"{i}\n" for i in range(1000)), encoding="utf-8")
    cancel = threading.Event()
    context = RunContext(project_dir=tmp_path, connections=None, cancel=cancel)
    chunks = CsvFileSource.from_spec({"path": "n.csv"}, context).read_chunks(100)
    next(chunks)
    cancel.set()
    with pytest.raises(RunCancelled):
        next(chunks)
