"""How the engine carries captured changes: change columns round the mapping, deletes past the rules, mode cdc's settings, validate."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from etl_studio.core import plugins
from etl_studio.core.cdc.apply import CHANGE_COLUMNS
from etl_studio.core.connections import ConnectionPool
from etl_studio.core.context import RunContext
from etl_studio.core.engine.flow import ChunkChecker
from etl_studio.core.engine.runner import run_pipeline
from etl_studio.core.engine.validation import validate_project
from etl_studio.core.errors import ConfigError
from etl_studio.core.history import RunStatus
from etl_studio.core.history.store import InMemoryRunStore
from etl_studio.core.mapping.apply import compile_mapping
from etl_studio.core.project import Connection, Pipeline, PluginSpec, Project, TargetColumn
from etl_studio.core.sources.base import Source
from etl_studio.core.sources.csv_file import CsvFileSource

plugins.load_builtin_plugins()


def changes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.array([1, 2, 1, 3], dtype="Int64"),
            "name": pd.array(["a", "b", None, None], dtype="string"),
            "body": pd.array(["x", None, None, "z"], dtype="string"),
            "__op__": pd.array(["insert", "insert", "delete", "update"], dtype="string"),
            "__lsn__": pd.array(["00000000/00000001"] * 4, dtype="string"),
            "__unchanged__": pd.array([None, None, None, json.dumps(["name"])], dtype="string"),
        }
    )


def rule(kind: str, **config: object) -> object:
    return plugins.rules.get(kind).from_spec(config, RunContext(project_dir=Path("."), connections=None), name=f"{kind} rule", severity="error", action="quarantine")


def test_change_columns_go_round_the_mapping_and_deletes_skip_required_values_and_rules() -> None:
    mapping = [
        TargetColumn(name="key", type="integer", source="id", nullable=False),
        TargetColumn(name="label", type="string", source="name", nullable=False),
        TargetColumn(name="shout", type="string", expr="upper(name)"),
        TargetColumn(name="body", type="string", source="body"),
    ]
    plan = compile_mapping(mapping, ["id", "name", "body"])
    checker = ChunkChecker(plan, [rule("not_null", column="label")], "run", carry=CHANGE_COLUMNS)
    checked = checker.check(changes())
    # The delete (row 2) has no name, yet is neither a mapping error nor a rule failure; the
    # update of 3 without a name (unsent TOAST) is checked like any row and quarantined.
    assert list(checked.good.index) == [0, 1, 2]
    assert list(checked.good.columns) == ["key", "label", "shout", "body", *CHANGE_COLUMNS]
    assert checked.good["__op__"].tolist() == ["insert", "insert", "delete"]
    assert checked.quarantined.index.tolist() == [3] and checked.quarantined["__op__"].tolist() == ["update"]
    assert checker.results["not_null rule"].rows_checked == 2, "only inserts and updates are checked"


def test_unchanged_columns_are_named_as_the_target_columns_made_from_them() -> None:
    mapping = [
        TargetColumn(name="key", type="integer", source="id"),
        TargetColumn(name="label", type="string", source="name"),
        TargetColumn(name="shout", type="string", expr="upper(name)"),
        TargetColumn(name="body", type="string", source="body"),
    ]
    checker = ChunkChecker(compile_mapping(mapping, ["id", "name", "body"]), [], "run", carry=CHANGE_COLUMNS)
    checked = checker.check(changes())
    assert json.loads(checked.good.loc[3, "__unchanged__"]) == ["label", "shout"]
    assert pd.isna(checked.good.loc[0, "__unchanged__"])


def test_without_carry_nothing_changes_for_ordinary_sources() -> None:
    frame = pd.DataFrame({"id": pd.array([1], dtype="Int64")})
    checker = ChunkChecker(compile_mapping([], ["id"]), [], "run")
    assert list(checker.check(frame).good.columns) == ["id"]
    assert Source.change_columns == () and not Source.commits_position and CsvFileSource.watermark is None


def test_mode_cdc_needs_keys_and_refuses_a_content_hash() -> None:
    model = plugins.targets.get("sql_table").config_model
    with pytest.raises(ValueError, match="mode 'cdc' needs at least one key"):
        model.model_validate({"connection": "db", "table": "t", "mode": "cdc"})
    with pytest.raises(ValueError, match="'hash_column' does not go with mode 'cdc'"):
        model.model_validate({"connection": "db", "table": "t", "mode": "cdc", "keys": ["id"], "hash_column": "h"})
    assert "cdc:" in model.model_fields["mode"].description and "cdc" in model.model_fields["keys"].description


def test_describe_load_and_the_table_leave_the_change_columns_out(tmp_path: Path) -> None:
    project = Project(connections=[Connection(name="db", url=f"sqlite:///{tmp_path / 't.db'}")])
    pool = ConnectionPool(project, tmp_path)
    try:
        target = plugins.targets.get("sql_table").from_spec(
            {"connection": "db", "table": "orders", "mode": "cdc", "keys": ["id"]}, RunContext(project_dir=tmp_path, connections=pool)
        )
        columns = [TargetColumn(name="id", type="integer", nullable=False), TargetColumn(name="name", type="string")]
        text = target.describe_load(columns)
        assert "ON CONFLICT (id) DO UPDATE" in text and 'DELETE FROM orders WHERE orders.id = ?' in text
        assert "advanced" in text and "__op__" in text
        with pytest.raises(ConfigError, match="__op__ describes a captured change"):
            target.open([*columns, TargetColumn(name="__op__", type="string")], "run")
        session = target.open(columns, "run")
        with pytest.raises(ConfigError, match="no __op__ column"):
            session.write(pd.DataFrame({"id": pd.array([1], dtype="Int64"), "name": ["a"]}))
        session.rollback()
    finally:
        pool.dispose()


def test_validate_and_run_refuse_cdc_paired_with_anything_else(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("id,name\n1,a\n")
    lite = f"sqlite:///{tmp_path / 't.db'}"
    project = Project(
        connections=[Connection(name="db", url=lite)],
        pipelines=[
            Pipeline(name="changes_to_csv", source=PluginSpec(kind="pg_cdc", config={"connection": "db", "slot": "s", "table": "t"}),
                     target=PluginSpec(kind="csv_file", config={"path": "out.csv"})),
            Pipeline(name="csv_as_changes", source=PluginSpec(kind="csv_file", config={"path": "in.csv"}),
                     target=PluginSpec(kind="sql_table", config={"connection": "db", "table": "t", "mode": "cdc", "keys": ["id"]})),
            Pipeline(name="changes_upserted", source=PluginSpec(kind="pg_cdc", config={"connection": "db", "slot": "s", "table": "t"}),
                     target=PluginSpec(kind="sql_table", config={"connection": "db", "table": "t", "mode": "upsert", "keys": ["id"]})),
        ],
    )
    problems = {(p.path, p.message) for p in validate_project(project, tmp_path)}
    at_target = {path: message for path, message in problems if path.endswith(".target")}
    assert "only a sql_table target in mode 'cdc'" in at_target["pipelines[0].target"]
    assert "needs a pg_cdc source" in at_target["pipelines[1].target"]
    assert "this target is sql_table in mode 'upsert'" in at_target["pipelines[2].target"]
    record = run_pipeline(project, "csv_as_changes", project_dir=tmp_path, store=InMemoryRunStore())
    assert record.status is RunStatus.FAILED and "needs a pg_cdc source" in (record.error or "")
    with sa.create_engine(lite).connect() as conn:
        assert not sa.inspect(conn).has_table("t"), "refused before anything was created"
