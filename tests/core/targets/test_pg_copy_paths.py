"""PostgreSQL COPY: binary payloads encoded ahead on the run's thread store exactly what CSV stores; a value the
binary form refuses goes as CSV, so that the server's own message names it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from etl_studio.core.connections import ConnectionPool
from etl_studio.core.engine.runner import run_pipeline
from etl_studio.core.history import InMemoryRunStore, RunStatus
from etl_studio.core.project.models import Connection, Pipeline, PluginSpec, Project, TargetColumn
from etl_studio.core.targets import pg_binary
from etl_studio.core.targets.sql_writers import EncodedChunk, PostgresCopyWriter, writer_for

from tests.core.targets.test_writer_values import COLUMNS, frame, table


@pytest.fixture
def engine(postgres_url: str, tmp_path: Path) -> Iterator[sa.Engine]:
    pool = ConnectionPool(Project(connections=[Connection(name="db", url=postgres_url)]), tmp_path)
    yield pool.engine("db")
    pool.dispose()


def _rows(engine: sa.Engine, name: str) -> list[tuple]:
    quote = engine.dialect.identifier_preparer.quote
    names = ", ".join(quote(c.name) for c in COLUMNS)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(f"select {names} from {quote(name)} order by id"))]


def test_binary_copies_encoded_ahead_store_what_csv_copies_store(engine: sa.Engine, table_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    metadata = sa.MetaData()
    binary, csv = table(table_name + "_bin", metadata, "postgresql"), table(table_name + "_csv", metadata, "postgresql")
    metadata.create_all(engine)
    rows = frame(40)
    try:
        with engine.begin() as conn:
            writer = writer_for(conn, binary, COLUMNS, "append", [])
            assert isinstance(writer, PostgresCopyWriter)
            assert writer.encode(rows.iloc[:20]) is None  # the table's types are not looked up yet: write() does it all
            assert writer.write(rows.iloc[:20]) == 20
            ahead = writer.encode(rows.iloc[20:])
            assert isinstance(ahead, EncodedChunk) and ahead.payload is not None and ahead.rows == 20
            assert writer.write_encoded(ahead) == 20
        with monkeypatch.context() as patch:
            patch.setattr(pg_binary, "encoder_for", lambda schema, types: None)  # this table goes as CSV
            with engine.begin() as conn:
                writer = writer_for(conn, csv, COLUMNS, "append", [])
                assert writer.write(rows.iloc[:20]) == 20
                ahead = writer.encode(rows.iloc[20:])
                assert isinstance(ahead, EncodedChunk) and ahead.payload is None
                assert writer.write_encoded(ahead) == 20
        stored = _rows(engine, binary.name)
        assert stored == _rows(engine, csv.name) and len(stored) == 40
        by_id = {row[0]: row for row in stored}
        assert by_id[0][1] == "" and by_id[1][1] is None and by_id[2][1] == 'Zoë, "quoted"\nline'
    finally:
        metadata.drop_all(engine)


def test_a_value_the_binary_form_refuses_goes_as_csv_and_the_server_names_it(engine: sa.Engine, table_name: str, tmp_path: Path,
                                                                              postgres_url: str) -> None:
    (tmp_path / "data.csv").write_text("id,n\n" + "".join(f"{i},{3_000_000_000 if i == 1500 else i}\n" for i in range(2000)))
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as conn:
        conn.execute(sa.text(f"create table {quote(table_name)} (id bigint primary key, n integer)"))  # int4: no room for 3e9
        conn.execute(sa.text(f"insert into {quote(table_name)} values (-1, -1)"))
    try:
        project = Project(
            connections=[Connection(name="pg", url=postgres_url)],
            pipelines=[Pipeline(
                name="load",
                source=PluginSpec(kind="csv_file", config={"path": "data.csv"}),
                mapping=[TargetColumn(name="id", type="integer", source="id", nullable=False), TargetColumn(name="n", type="integer", source="n")],
                target=PluginSpec(kind="sql_table", config={"connection": "pg", "table": table_name, "mode": "replace"}),
                chunk_size=500,
            )],
        )
        record = run_pipeline(project, "load", project_dir=tmp_path, store=InMemoryRunStore())
        assert record.status is RunStatus.FAILED
        assert "out of range for type integer" in (record.error or "")
        with engine.connect() as conn:
            assert conn.execute(sa.text(f"select id, n from {quote(table_name)}")).all() == [(-1, -1)]  # left as it was
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"drop table if exists {quote(table_name)}"))


def test_naive_timestamps_into_a_timestamptz_column_keep_the_csv_reading(engine: sa.Engine, table_name: str) -> None:
    """The session's time zone decides what a naive timestamp means in timestamptz (as it always did): not the binary form's UTC."""
    from datetime import datetime, timezone

    import pandas as pd
    import pyarrow as pa

    quote = engine.dialect.identifier_preparer.quote
    columns = [TargetColumn(name="id", type="integer", nullable=False), TargetColumn(name="at", type="datetime")]
    metadata = sa.MetaData()
    target = sa.Table(table_name, metadata, sa.Column("id", sa.BigInteger, key="c0"), sa.Column("at", sa.DateTime(timezone=True), key="c1"))
    metadata.create_all(engine)
    chunk = pd.DataFrame({"id": pd.array([1], dtype="Int64"),
                          "at": pd.Series([datetime(2024, 1, 2, 12, 0)], dtype=pd.ArrowDtype(pa.timestamp("us")))})
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("set local time zone 'America/New_York'"))
            writer = writer_for(conn, target, columns, "append", [])
            assert writer.write(chunk) == 1
            assert writer.encode(chunk) is None or writer.encode(chunk).payload is None  # never the binary form here
        with engine.connect() as conn:
            stored = conn.execute(sa.text(f"select at from {quote(table_name)}")).scalar_one()
        assert stored == datetime(2024, 1, 2, 17, 0, tzinfo=timezone.utc)  # 12:00 in New York
    finally:
        metadata.drop_all(engine)
