"""The lookup step: enrich rows from a reference CSV, never multiplying rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from etl_studio.core.errors import ConfigError
from etl_studio.core.steps.lookup import Lookup, LookupConfig


@pytest.fixture
def customers(tmp_path: Path) -> dict:
    (tmp_path / "customers.csv").write_text("id,name,country\n1,Ann,DE\n2,Bob,FR\n2,Bobby,UK\n,Nobody,XX\n", encoding="utf-8")
    return {"kind": "csv_file", "config": {"path": "customers.csv"}}


def make(ctx, source, **config) -> Lookup:
    return Lookup.from_spec({"source": source, **config}, ctx)


def test_left_lookup_takes_the_first_match_and_keeps_the_index(ctx, customers, text_frame):
    step = make(ctx, customers, on=[["customer_id", "id"]])
    chunk = text_frame({"customer_id": ["2", "1", "9", None]}, index=[10, 11, 12, 13])
    out = step.process(chunk)
    assert out.index.tolist() == [10, 11, 12, 13]
    assert out["name"].tolist()[:2] == ["Bob", "Ann"] and out["name"].iloc[2:].isna().all()
    assert out["country"].tolist()[:2] == ["FR", "DE"]


def test_inner_lookup_drops_rows_without_match_across_chunks(ctx, customers, text_frame):
    step = make(ctx, customers, on=[["customer_id", "id"]], how="inner", columns=["name"])
    first = step.process(text_frame({"customer_id": ["1", "7"]}, index=[0, 1]))
    second = step.process(text_frame({"customer_id": [None, "2"]}, index=[2, 3]))
    assert first.index.tolist() == [0] and list(first.columns) == ["customer_id", "name"]
    assert second.index.tolist() == [3] and second["name"].tolist() == ["Bob"]


def test_numbers_match_text_keys_as_text(ctx, customers):
    step = make(ctx, customers, on=[["customer_id", "id"]], columns=["name"])
    out = step.process(pd.DataFrame({"customer_id": pd.array([1, None, 2], dtype="Int64")}))
    assert out["name"].tolist()[0] == "Ann" and pd.isna(out["name"].iloc[1]) and out["name"].iloc[2] == "Bob"


def test_same_name_key_and_clashing_columns_get_the_suffix(ctx, customers, text_frame):
    step = make(ctx, customers, on=["id"])
    assert step.output_columns(["id", "name"]) == ["id", "name", "name_lookup", "country"]
    out = step.process(text_frame({"id": ["1"], "name": ["local"]}))
    assert out.iloc[0].tolist() == ["1", "local", "Ann", "DE"]


def test_source_is_read_once(ctx, customers, text_frame, tmp_path):
    step = make(ctx, customers, on=[["customer_id", "id"]])
    step.process(text_frame({"customer_id": ["1"]}))
    (tmp_path / "customers.csv").unlink()
    assert step.process(text_frame({"customer_id": ["2"]}))["name"].tolist() == ["Bob"]


def test_unknown_columns_on_either_side(ctx, customers):
    with pytest.raises(ConfigError, match="unknown column 'customer_id' in lookup"):
        make(ctx, customers, on=[["customer_id", "id"]]).output_columns(["cust"])
    with pytest.raises(ConfigError, match=r"unknown column 'idx' in lookup source \(columns: id, name, country\)"):
        make(ctx, customers, on=[["cust", "idx"]]).output_columns(["cust"])
    with pytest.raises(ConfigError, match="unknown column 'email' in lookup source"):
        make(ctx, customers, on=["id"], columns=["email"]).output_columns(["id"])


def test_unknown_source_kind_is_a_config_error(ctx):
    with pytest.raises(ConfigError, match="unknown source kind 'nope' in lookup"):
        make(ctx, {"kind": "nope"}, on=["id"]).output_columns(["id"])


def test_bad_configs():
    with pytest.raises(ValidationError, match="at least 1 item"):
        LookupConfig(source={"kind": "csv_file"}, on=[])
    with pytest.raises(ValidationError, match="'left' or 'inner'"):
        LookupConfig(source={"kind": "csv_file"}, on=["id"], how="outer")
    with pytest.raises(ValidationError, match="suffix must not be empty"):
        LookupConfig(source={"kind": "csv_file"}, on=["id"], suffix="")
    with pytest.raises(ValidationError, match="source kind is required"):
        LookupConfig(source={"kind": " "}, on=["id"])


def test_config_round_trips_through_json():
    config = LookupConfig(source={"kind": "csv_file", "config": {"path": "x.csv"}}, on=["id", ["a", "b"]])
    assert LookupConfig.model_validate_json(config.model_dump_json()) == config


def test_empty_frame(ctx, customers, text_frame):
    out = make(ctx, customers, on=[["customer_id", "id"]]).process(text_frame({"customer_id": []}))
    assert len(out) == 0 and list(out.columns) == ["customer_id", "name", "country"]
