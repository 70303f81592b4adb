"""The referential rule: values must exist in a reference source, read once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from etl_studio.core.errors import ConfigError
from etl_studio.core.rules.referential import Referential, ReferentialConfig


@pytest.fixture
def countries(tmp_path: Path) -> dict:
    (tmp_path / "countries.csv").write_text("code,name\nDE,Germany\nFR,France\n,Nowhere\n", encoding="utf-8")
    return {"kind": "csv_file", "config": {"path": "countries.csv"}}


def make(ctx, source, **config) -> Referential:
    return Referential.from_spec({"column": "country", "source": source, "source_column": "code", **config}, ctx)


def test_missing_references_fail_null_passes_source_read_once(ctx, countries, text_frame, tmp_path):
    rule = make(ctx, countries)
    first = rule.check(text_frame({"country": ["DE", "XX", None]}, index=[0, 1, 2]))
    (tmp_path / "countries.csv").unlink()
    second = rule.check(text_frame({"country": ["FR", "de"]}, index=[3, 4]))
    assert first.tolist() == [None, "'XX' is not found in reference column code", None]
    assert second.tolist() == [None, "'de' is not found in reference column code"]


def test_numbers_compare_with_text_references_as_text(ctx, tmp_path):
    (tmp_path / "ids.csv").write_text("code\n1\n2\n", encoding="utf-8")
    rule = make(ctx, {"kind": "csv_file", "config": {"path": "ids.csv"}})
    out = rule.check(pd.DataFrame({"country": pd.array([1, 3, None], dtype="Int64")}))
    assert out.tolist() == [None, "3 is not found in reference column code", None]


def test_unknown_columns(ctx, countries, text_frame):
    with pytest.raises(ConfigError, match="unknown column 'country' in rule referential"):
        make(ctx, countries).check(text_frame({"land": ["DE"]}))
    with pytest.raises(ConfigError, match=r"unknown column 'iso' in rule referential source \(columns: code, name\)"):
        make(ctx, countries, source_column="iso").check(text_frame({"country": ["DE"]}))


def test_bad_configs():
    with pytest.raises(ValidationError, match="source_column"):
        ReferentialConfig(column="a", source={"kind": "csv_file"})
    with pytest.raises(ValidationError, match="source kind is required"):
        ReferentialConfig(column="a", source={"kind": ""}, source_column="b")


def test_empty_frame(ctx, countries, text_frame):
    assert len(make(ctx, countries).check(text_frame({"country": []}))) == 0
