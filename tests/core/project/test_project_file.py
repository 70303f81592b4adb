"""The project file: stable JSON, migrations, located errors, atomic saves, no secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl_studio.core.errors import ProjectFileError
from etl_studio.core.project import (
    CURRENT_SCHEMA_VERSION,
    Connection,
    Pipeline,
    PluginSpec,
    Project,
    RuleSpec,
    StepSpec,
    TargetColumn,
    dumps_project,
    load_project,
    loads_project,
    save_project,
)

GOLDEN = Path(__file__).resolve().parents[2] / "project_files"


def small_project() -> Project:
    return Project(
        name="Shop",
        connections=[Connection(name="warehouse", url="sqlite:///warehouse.db")],
        pipelines=[
            Pipeline(
                name="orders",
                source=PluginSpec(kind="csv_file", config={"path": "orders.csv"}),
                steps=[StepSpec(kind="clean", config={})],
                mapping=[
                    TargetColumn(name="order_id", type="integer", source="order_id", nullable=False),
                    TargetColumn(name="total", type="decimal(12,2)", expr="quantity * unit_price"),
                ],
                rules=[RuleSpec(kind="not_null", name="id present", config={"column": "order_id"})],
                target=PluginSpec(kind="sql_table", config={"connection": "warehouse", "table": "orders"}),
            )
        ],
    )


def test_saving_then_loading_gives_the_same_project_and_the_same_bytes(tmp_path: Path) -> None:
    path = tmp_path / "shop.etlproj"
    save_project(small_project(), path)
    first = path.read_bytes()
    loaded = load_project(path)
    assert loaded == small_project()
    save_project(loaded, path)
    assert path.read_bytes() == first


def test_file_is_stable_readable_json_with_format_and_version(tmp_path: Path) -> None:
    text = dumps_project(small_project())
    data = json.loads(text)
    assert list(data)[:2] == ["format", "schema_version"]
    assert data["format"] == "etl-studio-project" and data["schema_version"] == CURRENT_SCHEMA_VERSION
    assert text.endswith("\n") and '\n  "name": "Shop"' in text  # 2-space indent


def test_saving_keeps_the_previous_version_as_backup(tmp_path: Path) -> None:
    path = tmp_path / "shop.etlproj"
    save_project(small_project(), path)
    before = path.read_bytes()
    changed = small_project().model_copy(update={"name": "Shop 2"})
    save_project(changed, path)
    assert (tmp_path / "shop.etlproj.bak").read_bytes() == before
    assert load_project(path).name == "Shop 2"
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_a_failed_save_leaves_the_file_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "shop.etlproj"
    save_project(small_project(), path)
    before = path.read_bytes()
    import os

    def broken_replace(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        save_project(small_project().model_copy(update={"name": "other"}), path)
    assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_errors_name_the_json_path_of_every_problem() -> None:
    data = json.loads(dumps_project(small_project()))
    data["pipelines"][0]["mapping"][1]["type"] = "money"
    data["pipelines"][0]["mapping"][0]["sourse"] = "x"
    with pytest.raises(ProjectFileError) as info:
        loads_project(json.dumps(data), source="shop.etlproj")
    paths = {p.path for p in info.value.problems}
    assert "pipelines[0].mapping[1].type" in paths
    assert "pipelines[0].mapping[0].sourse" in paths
    assert "unknown type 'money'" in str(info.value)


def test_unknown_plugin_kind_and_bad_plugin_config_are_located() -> None:
    data = json.loads(dumps_project(small_project()))
    data["pipelines"][0]["steps"][0]["kind"] = "cleen"
    data["pipelines"][0]["source"]["config"]["delimeter"] = ";"
    with pytest.raises(ProjectFileError) as info:
        loads_project(json.dumps(data))
    text = str(info.value)
    assert "pipelines[0].steps[0].kind: unknown step kind 'cleen'" in text
    assert "pipelines[0].source.config.delimeter" in text


def test_malformed_json_says_where() -> None:
    with pytest.raises(ProjectFileError) as info:
        loads_project('{"format": "etl-studio-project",\n  "name": }', source="bad.etlproj")
    assert "line 2" in str(info.value) and "not valid JSON" in str(info.value)


def test_a_file_that_is_not_a_project_is_refused() -> None:
    with pytest.raises(ProjectFileError, match="is this an ETL Studio project"):
        loads_project('{"hello": 1}')


def test_a_newer_schema_version_is_a_clear_error_not_a_silent_loss() -> None:
    data = json.loads(dumps_project(small_project()))
    data["schema_version"] = CURRENT_SCHEMA_VERSION + 1
    with pytest.raises(ProjectFileError, match="newer than this ETL Studio understands"):
        loads_project(json.dumps(data))


def test_every_golden_file_still_loads() -> None:
    files = sorted(GOLDEN.glob("v*.etlproj"))
    assert files, "golden project files are missing"
    for file in files:
        project = load_project(file)
        assert project.schema_version == CURRENT_SCHEMA_VERSION
        assert project.pipelines[0].mapping, f"{file.name}: mapping lost in migration"


def test_a_literal_password_in_a_url_is_refused_with_advice() -> None:
    data = json.loads(dumps_project(small_project()))
    data["connections"][0]["url"] = "postgresql://etl:s3cret@db.example.com/warehouse"
    with pytest.raises(ProjectFileError) as info:
        loads_project(json.dumps(data))
    assert "connections[0].url" in str(info.value) and "${ENV_VAR}" in str(info.value)
    assert "s3cret" not in str(info.value)


def test_password_references_are_accepted() -> None:
    Connection(name="pg", url="postgresql://etl:${PG_PASSWORD}@db/warehouse")
    Connection(name="pg", url="postgresql://etl@db/warehouse", password="${PG_PASSWORD}")
    Connection(name="pg", url="postgresql://etl@db/warehouse", password="keyring:etl-studio/etl")
    with pytest.raises(ValueError):
        Connection(name="pg", url="postgresql://etl@db/warehouse", password="hunter2")


def test_missing_file_is_a_project_file_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectFileError, match="file not found"):
        load_project(tmp_path / "nope.etlproj")


names = st.text(alphabet=st.characters(categories=("L", "N"), include_characters="_ -é"), min_size=1, max_size=12).filter(lambda s: s.strip() == s and s)
types = st.sampled_from(["string", "integer", "decimal(10,2)", "float", "boolean", "date", "datetime"])
columns = st.builds(
    TargetColumn,
    name=names,
    type=types,
    nullable=st.booleans(),
    source=st.one_of(st.none(), names),
    description=st.text(max_size=20),
)


@st.composite
def projects(draw: st.DrawFn) -> Project:
    pipeline_names = draw(st.lists(names, min_size=0, max_size=3, unique=True))
    pipelines = []
    for name in pipeline_names:
        mapping = draw(st.lists(columns, max_size=5, unique_by=lambda c: c.name))
        pipelines.append(
            Pipeline(
                name=name,
                description=draw(st.text(max_size=30)),
                source=PluginSpec(kind="csv_file", config={"path": draw(names) + ".csv"}),
                mapping=mapping,
                target=PluginSpec(kind="csv_file", config={"path": draw(names) + ".out.csv"}),
                chunk_size=draw(st.one_of(st.none(), st.integers(1, 10**6))),
            )
        )
    return Project(name=draw(names), description=draw(st.text(max_size=40)), pipelines=pipelines)


@settings(max_examples=60, deadline=None)
@given(projects())
def test_any_project_round_trips_through_its_text(project: Project) -> None:
    text = dumps_project(project)
    again = loads_project(text)
    assert again == project
    assert dumps_project(again) == text
