"""Fixtures for the source tests: a run context over tmp_path, with or without a database connection."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from etl_studio.core.connections import ConnectionPool
from etl_studio.core.context import RunContext
from etl_studio.core.project.models import Connection, Project


@pytest.fixture
def context(tmp_path: Path) -> RunContext:
    return RunContext(project_dir=tmp_path, connections=None)


@pytest.fixture
def db_context(tmp_path: Path) -> Iterator[Callable[..., RunContext]]:
    """db_context(url, **params): a context whose project has one connection named "db"."""
    pools: list[ConnectionPool] = []

    def make(url: str, **params: object) -> RunContext:
        pool = ConnectionPool(Project(connections=[Connection(name="db", url=url)]), tmp_path)
        pools.append(pool)
        return RunContext(project_dir=tmp_path, connections=pool, params=dict(params))

    yield make
    for pool in pools:
        pool.dispose()


def all_rows(chunks: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(chunks) if chunks else pd.DataFrame()
