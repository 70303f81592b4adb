"""A run imports the plugin modules its pipeline names; listing a registry imports them all."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from etl_studio.core import plugins
from etl_studio.core.registry import UnknownPluginError


def fresh_python(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_looking_up_a_csv_source_imports_neither_openpyxl_nor_httpx() -> None:
    seen = fresh_python(
        "import json, sys\n"
        "from etl_studio.core import plugins\n"
        "plugins.load_builtin_plugins()\n"
        "plugins.sources.get('csv_file'); plugins.steps.get('clean'); plugins.rules.get('regex'); plugins.targets.get('sql_table')\n"
        "print(json.dumps({m: m in sys.modules for m in ('openpyxl', 'httpx', 'etl_studio.core.sources.excel_file',"
        " 'etl_studio.core.sources.rest_api', 'etl_studio.core.sources.csv_file')}))\n"
    )
    assert seen == {"openpyxl": False, "httpx": False, "etl_studio.core.sources.excel_file": False,
                    "etl_studio.core.sources.rest_api": False, "etl_studio.core.sources.csv_file": True}


def test_listing_a_registry_imports_every_module_of_its_kind() -> None:
    listed = fresh_python(
        "import json\n"
        "from etl_studio.core import plugins\n"
        "print(json.dumps({name: reg.keys() for name, reg in plugins.REGISTRIES.items()}))\n"
    )
    assert "excel_file" in listed["source"] and "rest_api" in listed["source"]
    assert {"clean", "dedupe", "aggregate"} <= set(listed["step"])
    assert {"csv_file", "parquet_file", "sql_table"} <= set(listed["target"])


def test_a_key_registered_by_a_module_of_another_name_is_found() -> None:
    assert plugins.targets.get("parquet_file").kind == "parquet_file"  # in targets/files.py
    assert "csv_file" in plugins.targets


def test_an_unknown_kind_names_every_known_one() -> None:
    with pytest.raises(UnknownPluginError) as caught:
        plugins.steps.get("no_such_step")
    assert {"clean", "dedupe", "sort"} <= set(caught.value.known)
    assert "no_such_step" not in plugins.steps
    assert "../steps" not in plugins.steps and "_keys" not in plugins.steps


def test_everything_loads_every_module_at_once() -> None:
    loaded = fresh_python(
        "import json, sys\n"
        "from etl_studio.core import plugins\n"
        "plugins.load_builtin_plugins(everything=True)\n"
        "print(json.dumps(['etl_studio.core.sources.excel_file' in sys.modules, 'etl_studio.core.rules.unique' in sys.modules]))\n"
    )
    assert loaded == [True, True]
