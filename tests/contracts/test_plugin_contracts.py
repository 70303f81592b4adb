"""Contracts every registered plugin keeps: generated from the registries, so a new plugin is checked too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from etl_studio.core import plugins
from etl_studio.core.context import RunContext
from etl_studio.core.plugin_base import PluginConfig

plugins.load_builtin_plugins()

# One valid example config per plugin key. A plugin added without an example fails
# test_every_plugin_has_an_example, so the contracts below always cover all of them.
CSV_SOURCE = {"kind": "csv_file", "config": {"path": "ref.csv"}}
EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("source", "csv_file"): {"path": "data.csv"},
    ("source", "excel_file"): {"path": "data.xlsx"},
    ("source", "parquet_file"): {"path": "data.parquet"},
    ("source", "json_file"): {"path": "data.json"},
    ("source", "sql_table"): {"connection": "db", "table": "orders"},
    ("source", "pg_cdc"): {"connection": "db", "slot": "etl_orders", "table": "orders"},
    ("source", "rest_api"): {"url": "https://api.example.com/orders", "records_path": "data", "pagination": "page", "auth": "bearer", "token": "${API_TOKEN}"},
    ("step", "clean"): {"trim": True},
    ("step", "filter_rows"): {"expr": "amount > 0"},
    ("step", "derive_column"): {"name": "double", "expr": "amount * 2"},
    ("step", "dedupe"): {"columns": ["id"]},
    ("step", "lookup"): {"source": CSV_SOURCE, "on": ["id"]},
    ("step", "aggregate"): {"group_by": ["id"], "aggregations": [{"func": "count", "as": "n"}]},
    ("step", "bucket"): {"column": "amount", "into": "size", "buckets": [{"label": "small", "max": 10}, {"label": "big", "min": 10}]},
    ("step", "sort"): {"by": [{"column": "id"}]},
    ("rule", "not_null"): {"column": "id"},
    ("rule", "unique"): {"columns": ["id"]},
    ("rule", "range"): {"column": "amount", "min": 0},
    ("rule", "regex"): {"column": "email", "preset": "email"},
    ("rule", "allowed_values"): {"column": "id", "values": ["1", "2"]},
    ("rule", "length"): {"column": "email", "max": 100},
    ("rule", "date_range"): {"column": "day", "max": "today"},
    ("rule", "referential"): {"column": "id", "source": CSV_SOURCE, "source_column": "id"},
    ("rule", "row_count"): {"min": 0},
    ("rule", "expression"): {"expr": "amount >= 0"},
    ("target", "sql_table"): {"connection": "db", "table": "orders"},
    ("target", "csv_file"): {"path": "out.csv"},
    ("target", "parquet_file"): {"path": "out.parquet"},
}
ALL = [(registry, key) for registry, reg in plugins.REGISTRIES.items() for key in reg.keys()]
EMPTY = pd.DataFrame(
    {"id": pd.array([], dtype="string"), "amount": pd.array([], dtype="string"),
     "email": pd.array([], dtype="string"), "day": pd.array([], dtype="string")}
)


def test_every_plugin_has_an_example() -> None:
    missing = [f"{r}:{k}" for r, k in ALL if (r, k) not in EXAMPLES]
    assert not missing, f"add an example config to tests/contracts for: {missing}"


@pytest.mark.parametrize(("registry", "key"), ALL, ids=[f"{r}:{k}" for r, k in ALL])
def test_plugin_has_a_frozen_config_model_title_and_description(registry: str, key: str) -> None:
    cls = plugins.REGISTRIES[registry].get(key)
    assert cls.kind == key
    assert issubclass(cls.config_model, PluginConfig)
    assert cls.title and cls.description, "the app's palette shows both"
    for name, field in cls.config_model.model_fields.items():
        assert field.description, f"{key}.{name} needs a description: the app shows it as the field's tooltip"


@pytest.mark.parametrize(("registry", "key"), ALL, ids=[f"{r}:{k}" for r, k in ALL])
def test_example_config_round_trips_through_json(registry: str, key: str) -> None:
    model = plugins.REGISTRIES[registry].get(key).config_model
    config = model.model_validate(EXAMPLES[(registry, key)])
    text = json.dumps(config.model_dump(mode="json", exclude_defaults=True))
    assert model.model_validate(json.loads(text)) == config
    with pytest.raises(Exception):
        config.__setattr__(next(iter(model.model_fields)), None)  # frozen


@pytest.mark.parametrize(("registry", "key"), ALL, ids=[f"{r}:{k}" for r, k in ALL])
def test_unknown_config_fields_are_refused(registry: str, key: str) -> None:
    model = plugins.REGISTRIES[registry].get(key).config_model
    with pytest.raises(Exception, match="(?i)extra"):
        model.model_validate({**EXAMPLES[(registry, key)], "no_such_setting": 1})


STEPS_AND_RULES = [(r, k) for r, k in ALL if r in ("step", "rule")]


@pytest.mark.parametrize(("registry", "key"), STEPS_AND_RULES, ids=[f"{r}:{k}" for r, k in STEPS_AND_RULES])
def test_steps_and_rules_handle_an_empty_frame(registry: str, key: str, tmp_path: Path) -> None:
    (tmp_path / "ref.csv").write_text("id,extra\n1,a\n")
    context = RunContext(project_dir=tmp_path, connections=None)
    cls = plugins.REGISTRIES[registry].get(key)
    plugin = cls.from_spec(EXAMPLES[(registry, key)], context)
    if registry == "step":
        out = plugin.process(EMPTY.copy())
        tail = plugin.finish()
        assert isinstance(out, pd.DataFrame)
        assert tail is None or isinstance(tail, pd.DataFrame)
    else:
        reasons = plugin.check(EMPTY.copy())
        assert len(reasons) == 0
        plugin.finish()
