"""A run asks schema_differences() and then open(): the target table is inspected once, not twice."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from etl_studio.core.connections import ConnectionPool
from etl_studio.core.context import RunContext
from etl_studio.core.errors import ConfigError
from etl_studio.core.plugins import load_builtin_plugins, targets
from etl_studio.core.project.models import Connection, Project, TargetColumn
from etl_studio.core.targets.sql_table import SqlTableTarget

load_builtin_plugins()
COLUMNS = [TargetColumn(name="id", type="integer", nullable=False), TargetColumn(name="name", type="string")]


@pytest.fixture
def target(tmp_path: Path) -> SqlTableTarget:
    url = f"sqlite:///{tmp_path / 't.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("create table people (id bigint not null, name text)"))
    engine.dispose()
    context = RunContext(project_dir=tmp_path, connections=ConnectionPool(Project(connections=[Connection(name="db", url=url)]), tmp_path))
    found = targets.get("sql_table").from_spec({"connection": "db", "table": "people"}, context)
    assert isinstance(found, SqlTableTarget)
    return found


def test_open_after_schema_differences_does_not_inspect_the_table_again(target: SqlTableTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    compares: list[int] = []
    compare = SqlTableTarget._compare

    def counted(self: SqlTableTarget, *args: object, **kwargs: object) -> object:
        compares.append(1)
        return compare(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SqlTableTarget, "_compare", counted)
    assert target.schema_differences(COLUMNS) == []
    session = target.open(COLUMNS, "run-1")
    session.write(pd.DataFrame({"id": pd.array([1], dtype="Int64"), "name": pd.array(["a"], dtype="string")}))
    session.rollback()
    assert len(compares) == 1
    session = target.open(COLUMNS, "run-2")  # no schema_differences() before: inspected again
    session.rollback()
    assert len(compares) == 2


def test_a_table_that_does_not_fit_is_still_refused_by_open(target: SqlTableTarget) -> None:
    other = [TargetColumn(name="id", type="integer", nullable=False), TargetColumn(name="missing", type="string")]
    assert target.schema_differences(COLUMNS) == []  # looked at other columns
    with pytest.raises(ConfigError, match="missing"):
        target.open(other, "run-3")
