"""Fixtures for the load-strategy tests: one real database per run of a test, and tidy-up of its tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from etl_studio.core.connections import ConnectionPool
from etl_studio.core.context import RunContext
from etl_studio.core.plugins import load_builtin_plugins, targets
from etl_studio.core.project.models import Connection, Project, TargetColumn
from etl_studio.core.targets.base import CONTROL_TABLE, ControlRecord
from etl_studio.core.targets.sql_table import EXECUTIONS_TABLE, SqlTableTarget

load_builtin_plugins()

COLUMNS = [
    TargetColumn(name="id", type="integer", nullable=False),
    TargetColumn(name="name", type="string"),
    TargetColumn(name="city", type="string"),
]


@dataclass
class Db:
    url: str
    context: RunContext
    engine: sa.Engine
    drop: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def target(self, table: str, **config: Any) -> SqlTableTarget:
        for name in (table, config.get("dead_letter_table")):
            if name and name not in self.drop:
                self.drop.append(name)
        target = targets.get("sql_table").from_spec({"connection": "db", "table": table, **config}, self.context)
        assert isinstance(target, SqlTableTarget)
        return target

    def run_id(self) -> str:
        run_id = "test-" + uuid.uuid4().hex
        self.run_ids.append(run_id)
        return run_id

    def load(self, target: SqlTableTarget, *chunks: pd.DataFrame, columns: list[TargetColumn] = COLUMNS,
             at: datetime | None = None, execution_id: str | None = None) -> str:
        run_id = self.run_id()
        session = target.open(columns, run_id, load_time=at)
        total = sum(session.write(chunk) for chunk in chunks)
        session.commit(ControlRecord(run_id, "strategies", datetime.now(timezone.utc), total, execution_id=execution_id))
        return run_id

    def rows(self, table: str, *order_by: str, columns: list[str] | None = None) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            reflected = sa.Table(table, sa.MetaData(), autoload_with=conn)
            picked = [reflected.c[name] for name in columns] if columns else list(reflected.columns)
            order = [reflected.c[name] for name in order_by] or picked[:1]
            return [tuple(row) for row in conn.execute(sa.select(*picked).order_by(*order))]


def frame(*rows: tuple[Any, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.array([r[0] for r in rows], dtype="Int64"),
            "name": pd.array([r[1] for r in rows], dtype="string"),
            "city": pd.array([r[2] for r in rows], dtype="string"),
        }
    )


def make_db(url: str, tmp_path: Path) -> tuple[Db, ConnectionPool]:
    project = Project(connections=[Connection(name="db", url=url)])
    pool = ConnectionPool(project, tmp_path)
    context = RunContext(project_dir=tmp_path, connections=pool)
    return Db(url, context, pool.engine("db")), pool


@pytest.fixture
def db(any_db_url: str, tmp_path: Path) -> Iterator[Db]:
    handle, pool = make_db(any_db_url, tmp_path)
    yield handle
    cleanup(handle)
    pool.dispose()


def cleanup(handle: Db) -> None:
    with handle.engine.begin() as conn:
        inspector = sa.inspect(conn)
        for table in handle.drop:
            sa.Table(table, sa.MetaData()).drop(conn, checkfirst=True)  # PostgreSQL partitions go with their parent
        for name in (CONTROL_TABLE, EXECUTIONS_TABLE):
            if handle.run_ids and inspector.has_table(name):
                bookkeeping = sa.Table(name, sa.MetaData(), autoload_with=conn)
                conn.execute(bookkeeping.delete().where(bookkeeping.c.run_id.in_(handle.run_ids)))
