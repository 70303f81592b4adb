"""The JSON source: documents and NDJSON, records paths, flattening, typed columns, chunking, errors."""

from __future__ import annotations

import decimal
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from pydantic import ValidationError

from etl_studio.core.context import RunContext
from etl_studio.core.errors import ConfigError
from etl_studio.core.sources.json_file import JsonFileConfig, JsonFileSource


def read(context: RunContext, chunk_size: int = 1000, limit: int | None = None, **config: object) -> list[pd.DataFrame]:
    return list(JsonFileSource.from_spec(config, context).read_chunks(chunk_size, limit))


def test_records_inside_a_document_are_flattened(tmp_path: Path, context: RunContext) -> None:
    document = {
        "meta": {"page": 1},
        "data": {
            "items": [
                {"id": 1, "name": "Ann", "address": {"city": "Oslo", "geo": {"lat": 59.91}}, "tags": ["a", "b"]},
                {"id": 2, "name": None, "address": {"city": "Rome"}, "price": 10.25},
            ]
        },
    }
    (tmp_path / "api.json").write_text(json.dumps(document), encoding="utf-8")
    [chunk] = read(context, path="api.json", records_path="data.items")
    assert list(chunk.columns) == ["id", "name", "address.city", "address.geo.lat", "tags", "price"]
    assert chunk["id"].dtype == "Int64"
    assert chunk["name"].dtype == "string" and chunk["name"].iloc[1] is pd.NA
    assert chunk["address.city"].tolist() == ["Oslo", "Rome"]
    assert chunk["address.geo.lat"].iloc[0] == decimal.Decimal("59.91")  # exact, not 59.909999...
    assert chunk["tags"].tolist()[0] == '["a", "b"]' and chunk["tags"].iloc[1] is pd.NA
    assert chunk["price"].dtype == pd.ArrowDtype(pa.decimal128(4, 2))


def test_a_top_level_list_and_bare_values(tmp_path: Path, context: RunContext) -> None:
    (tmp_path / "list.json").write_text('[{"a": true}, {"a": false}, {"a": null}]', encoding="utf-8")
    [chunk] = read(context, path="list.json")
    assert chunk["a"].dtype == "boolean" and chunk["a"].iloc[2] is pd.NA
    (tmp_path / "codes.json").write_text('["01", "02"]', encoding="utf-8")
    [codes] = read(context, path="codes.json")
    assert codes["value"].tolist() == ["01", "02"]


def test_mixed_kinds_in_a_column_become_text(tmp_path: Path, context: RunContext) -> None:
    (tmp_path / "m.json").write_text('[{"v": 1}, {"v": "x"}, {"v": 2.5}, {"v": true}]', encoding="utf-8")
    [chunk] = read(context, path="m.json")
    assert chunk["v"].tolist() == ["1", "x", "2.5", "true"]


def test_ndjson_streams_in_chunks_and_every_chunk_has_every_column(tmp_path: Path, context: RunContext) -> None:
    lines = [json.dumps({"id": i, "user": {"name": f"u{i}"}}) for i in range(250)]
    lines[240] = json.dumps({"id": 240, "user": {"name": "late"}, "extra": "x"})
    lines.insert(100, "")  # blank lines are skipped, not rows
    (tmp_path / "events.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    chunks = read(context, chunk_size=100, path="events.ndjson")
    assert [len(c) for c in chunks] == [100, 100, 50]
    assert all(list(c.columns) == ["id", "user.name", "extra"] for c in chunks)
    combined = pd.concat(chunks)
    assert list(combined.index) == list(range(250)) and (combined["id"] == combined.index).all()
    assert combined["extra"].dropna().tolist() == ["x"]
    limited = read(context, chunk_size=100, limit=150, path="events.ndjson")
    assert [len(c) for c in limited] == [100, 50] and limited[1].index[-1] == 149


def test_format_auto_tells_ndjson_from_a_document(tmp_path: Path, context: RunContext) -> None:
    (tmp_path / "lines.json").write_text('{"a": 1}\n{"a": 2}\n', encoding="utf-8")
    (tmp_path / "pretty.json").write_text('{\n  "rows": [\n    {"a": 1}\n  ]\n}\n', encoding="utf-8")
    (tmp_path / "one.json").write_text('{"a": 1}\n', encoding="utf-8")
    assert JsonFileSource.from_spec({"path": "lines.json"}, context).file_format() == "ndjson"
    assert JsonFileSource.from_spec({"path": "pretty.json"}, context).file_format() == "json"
    assert JsonFileSource.from_spec({"path": "one.json"}, context).file_format() == "json"
    [lines] = read(context, path="lines.json")
    assert lines["a"].tolist() == [1, 2]
    [forced] = read(context, path="lines.json", format="ndjson")
    assert forced["a"].tolist() == [1, 2]
    [single] = read(context, path="one.json")
    assert single["a"].tolist() == [1]


def test_errors_say_where(tmp_path: Path, context: RunContext) -> None:
    (tmp_path / "e.ndjson").write_text('{"a": 1}\n{"a": 2,\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="e.ndjson: line 2 is not valid JSON"):
        read(context, path="e.ndjson")
    (tmp_path / "arr.ndjson").write_text('{"a": 1}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="line 2 holds a JSON array, not an object"):
        read(context, path="arr.ndjson")
    (tmp_path / "doc.json").write_text('{"data": {"items": [{"a": 1}]}}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"records_path 'data.rows': no 'rows' at data \(keys there: items\)"):
        read(context, path="doc.json", records_path="data.rows")
    with pytest.raises(ConfigError, match="holds an object, not a list of records: set records_path to one of data.items"):
        read(context, path="doc.json")
    (tmp_path / "broken.json").write_text('[{"a": 1},\n {"a": }]', encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.json: not valid JSON at line 2"):
        read(context, path="broken.json")
    with pytest.raises(ConfigError, match=f"JSON file not found: {tmp_path / 'none.json'}"):
        read(context, path="none.json")
    (tmp_path / "latin.json").write_bytes('[{"city": "Zürich"}]'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not valid utf-8 text"):
        read(context, path="latin.json")
    [latin] = read(context, path="latin.json", encoding="latin-1")
    assert latin["city"].tolist() == ["Zürich"]


def test_config_defaults_and_validation() -> None:
    config = JsonFileConfig()
    assert JsonFileConfig.model_validate_json(config.model_dump_json()) == config
    assert all(field.description for field in JsonFileConfig.model_fields.values())
    with pytest.raises(ValidationError):
        JsonFileConfig(format="xml")  # type: ignore[arg-type]


def test_empty_files_give_no_rows(tmp_path: Path, context: RunContext) -> None:
    (tmp_path / "empty.json").write_text("  \n", encoding="utf-8")
    (tmp_path / "empty.ndjson").write_text("", encoding="utf-8")
    assert read(context, path="empty.json") == []
    assert read(context, path="empty.ndjson") == []
    (tmp_path / "none.json").write_text("[]", encoding="utf-8")
    assert read(context, path="none.json") == []
