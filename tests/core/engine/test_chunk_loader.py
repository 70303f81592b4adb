"""The writer thread: chunks are written in order while the next one is prepared; errors and stops come back to the run."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from etl_studio.core.engine.runner import WRITE_AHEAD, ChunkLoader, run_pipeline
from etl_studio.core.errors import DataError
from etl_studio.core.history import InMemoryRunStore, RunStatus
from etl_studio.core.project import Connection, Pipeline, PluginSpec, Project, TargetColumn
from etl_studio.core.targets.base import ControlRecord, LoadSession


class RecordingSession(LoadSession):
    threaded_writes = True

    def __init__(self, fail_on: int | None = None, gate: threading.Event | None = None) -> None:
        self.events: list[str] = []
        self.threads: set[str] = set()
        self.fail_on = fail_on
        self.gate = gate
        self.writing = threading.Event()

    def write(self, chunk: pd.DataFrame) -> int:
        self.threads.add(threading.current_thread().name)
        number = int(chunk["n"].iloc[0])
        self.writing.set()
        if self.gate is not None:
            self.gate.wait()
        if number == self.fail_on:
            raise DataError(f"chunk {number} refused")
        self.events.append(f"write {number}")
        return len(chunk)

    def commit(self, control: ControlRecord) -> None:
        self.events.append("commit")

    def rollback(self) -> None:
        self.events.append("rollback")


def chunk(number: int, rows: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"n": [number] * rows})


def test_chunks_are_written_in_order_on_the_writer_thread_and_counted() -> None:
    session = RecordingSession()
    loader = ChunkLoader(session)
    for number in range(5):
        loader.put(chunk(number))
    loader.finish()
    assert session.events == [f"write {n}" for n in range(5)]
    assert loader.rows_loaded == 15
    assert session.threads == {"etl-studio-writer"}


def test_a_chunk_is_handed_over_only_when_the_writer_takes_it() -> None:
    gate = threading.Event()
    session = RecordingSession(gate=gate)
    loader = ChunkLoader(session)
    loader.put(chunk(0))
    session.writing.wait()  # the writer holds chunk 0 and waits for the database
    handed: list[int] = []

    def prepare_more() -> None:
        for number in (1, 2):
            loader.put(chunk(number))
            handed.append(number)

    producer = threading.Thread(target=prepare_more)
    producer.start()
    while not loader._queue.full():  # chunk 1 is waiting for the writer
        threading.Event().wait(0.005)
    # The writer is still busy with chunk 0: chunk 1 is not taken, so the run thread waits and
    # prepares nothing more: memory holds a bounded number of chunks.
    assert handed == [] and WRITE_AHEAD == 1
    gate.set()
    producer.join()
    loader.finish()
    assert handed == [1, 2]
    assert session.events == ["write 0", "write 1", "write 2"]


def test_a_write_error_comes_back_to_the_run_thread_and_later_chunks_are_not_written() -> None:
    session = RecordingSession(fail_on=1)
    loader = ChunkLoader(session)
    with pytest.raises(DataError, match="chunk 1 refused"):
        for number in range(6):
            loader.put(chunk(number))
        loader.finish()
    loader.abandon()
    assert "write 0" in session.events
    assert not any(event in session.events for event in ("write 2", "write 3", "write 4", "write 5"))


def test_abandon_waits_for_the_write_in_progress_and_writes_nothing_more() -> None:
    gate = threading.Event()
    session = RecordingSession(gate=gate)
    loader = ChunkLoader(session)
    loader.put(chunk(0))
    session.writing.wait()  # the writer holds chunk 0 and waits for the database
    stopper = threading.Thread(target=loader.abandon)
    stopper.start()
    gate.set()
    stopper.join()
    assert session.events == ["write 0"]  # finished before abandon() returned: a rollback never runs under it


def test_a_session_that_wants_its_own_thread_is_written_inline() -> None:
    session = RecordingSession()
    session.threaded_writes = False  # type: ignore[misc]
    loader = ChunkLoader(session)
    loader.put(chunk(0))
    assert session.events == ["write 0"] and session.threads == {threading.current_thread().name}
    loader.finish()


def test_a_refused_late_chunk_fails_the_run_and_leaves_the_table_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("id,amount\n" + "".join(f"{i},{i}.25\n" for i in range(1000)))
    url = f"sqlite:///{tmp_path / 't.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("create table numbers (id bigint not null primary key, amount numeric(10,2) check (amount < 900))"))
        conn.execute(sa.text("insert into numbers values (-1, 1.00)"))
    project = Project(
        connections=[Connection(name="db", url=url)],
        pipelines=[Pipeline(
            name="load",
            source=PluginSpec(kind="csv_file", config={"path": "data.csv"}),
            mapping=[TargetColumn(name="id", type="integer", source="id", nullable=False),
                     TargetColumn(name="amount", type="decimal(10,2)", source="amount")],
            target=PluginSpec(kind="sql_table", config={"connection": "db", "table": "numbers", "mode": "replace"}),
            chunk_size=100,
        )],
    )
    record = run_pipeline(project, "load", project_dir=tmp_path, store=InMemoryRunStore())
    assert record.status is RunStatus.FAILED
    assert "constraint" in (record.error or "").lower()
    with engine.connect() as conn:
        assert conn.execute(sa.text("select id, amount from numbers")).all() == [(-1, 1)]
    engine.dispose()
