"""The reading thread: the source and the steps run one chunk ahead, in order; errors, cancels and stops come back to the run."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from etl_studio.core.connections import ConnectionPool
from etl_studio.core.engine.runner import ChunkPrefetcher, run_pipeline
from etl_studio.core.errors import DataError
from etl_studio.core.history import InMemoryRunStore, RunStatus
from etl_studio.core.project import Connection, Pipeline, PluginSpec, Project, StepSpec, TargetColumn


class Numbers:
    """Chunks 0, 1, 2 ... made on demand; records which thread made them and whether it was closed."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.count, self.fail_at = count, fail_at
        self.made: list[int] = []
        self.threads: set[str] = set()
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[pd.DataFrame]:
        try:
            for number in range(self.count):
                self.threads.add(threading.current_thread().name)
                if number == self.fail_at:
                    raise DataError(f"chunk {number} cannot be read")
                self.made.append(number)
                yield pd.DataFrame({"n": [number]})
        finally:
            self.closed.set()


def test_chunks_arrive_in_order_from_another_thread() -> None:
    numbers = Numbers(6)
    prefetcher = ChunkPrefetcher(iter(numbers))
    assert [int(chunk["n"].iloc[0]) for chunk in prefetcher] == list(range(6))
    prefetcher.close()
    assert numbers.threads == {"etl-studio-reader"} and numbers.closed.is_set()


def test_a_reading_error_is_raised_in_the_run_thread_after_the_chunks_before_it() -> None:
    numbers = Numbers(6, fail_at=3)
    prefetcher = ChunkPrefetcher(iter(numbers))
    seen = []
    with pytest.raises(DataError, match="chunk 3 cannot be read"):
        for chunk in prefetcher:
            seen.append(int(chunk["n"].iloc[0]))
    prefetcher.close()
    assert seen == [0, 1, 2]


def test_close_stops_the_reading_after_the_chunk_in_hand_and_closes_the_source() -> None:
    numbers = Numbers(1000)
    prefetcher = ChunkPrefetcher(iter(numbers))
    first = next(iter(prefetcher))
    assert int(first["n"].iloc[0]) == 0
    prefetcher.close()
    assert numbers.closed.is_set()
    assert len(numbers.made) <= 3  # one taken, one waiting, at most one more being made


def _project(tmp_path: Path, url: str, steps: list[StepSpec] | None = None) -> Project:
    return Project(
        connections=[Connection(name="db", url=url)],
        pipelines=[Pipeline(
            name="load",
            source=PluginSpec(kind="csv_file", config={"path": "data.csv"}),
            steps=steps or [],
            mapping=[TargetColumn(name="id", type="integer", source="id", nullable=False),
                     TargetColumn(name="amount", type="decimal(10,2)", source="amount")],
            target=PluginSpec(kind="sql_table", config={"connection": "db", "table": "numbers", "mode": "replace"}),
            chunk_size=100,
        )],
    )


def test_a_run_with_a_reading_thread_loads_every_row_in_order(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("id,amount\n" + "".join(f"{i},{i}.25\n" for i in range(1000)))
    url = f"sqlite:///{tmp_path / 't.db'}"
    record = run_pipeline(_project(tmp_path, url, [StepSpec(kind="dedupe", config={"columns": ["id"]})]), "load",
                          project_dir=tmp_path, store=InMemoryRunStore())
    assert record.status is RunStatus.SUCCEEDED and record.rows_loaded == 1000
    with sa.create_engine(url).connect() as conn:
        assert conn.execute(sa.text("select count(*), sum(id), min(amount) from numbers")).one() == (1000, 499500, 0.25)


def test_a_cancel_seen_by_the_reading_thread_cancels_the_run(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("id,amount\n" + "".join(f"{i},{i}.25\n" for i in range(1000)))
    cancel = threading.Event()
    cancel.set()
    record = run_pipeline(_project(tmp_path, f"sqlite:///{tmp_path / 't.db'}"), "load", project_dir=tmp_path,
                          store=InMemoryRunStore(), cancel=cancel)
    assert record.status is RunStatus.CANCELLED


@pytest.mark.parametrize(("url", "bound"), [
    ("sqlite://", True),
    ("sqlite:///:memory:", True),
    ("sqlite:///file:shared?mode=memory&cache=shared&uri=true", True),
    ("sqlite:///t.db", False),
    ("postgresql://u@127.0.0.1/db", False),
])
def test_in_memory_sqlite_keeps_a_run_on_its_own_threads(tmp_path: Path, url: str, bound: bool) -> None:
    assert ConnectionPool(_project(tmp_path, url), tmp_path).thread_bound() is bound
