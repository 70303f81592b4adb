"""Without a chunk size in the pipeline, a CSV file is read in chunks of about the same bytes, whatever its row width."""

from __future__ import annotations

from pathlib import Path

from etl_studio.core.context import RunContext
from etl_studio.core.engine.assembly import DEFAULT_CHUNK_SIZE, AdaptiveChunkSize
from etl_studio.core.sources.csv_file import CsvFileSource


def write(path: Path, rows: int, width: int) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("id,text\n")
        for i in range(rows):
            handle.write(f"{i},{'x' * width}\n")


def chunk_lengths(context: RunContext, name: str, chunk_size: int, limit: int | None = None) -> list[int]:
    source = CsvFileSource.from_spec({"path": name}, context)
    return [len(chunk) for chunk in source.read_chunks(chunk_size, limit)]


def test_the_default_is_a_row_count_that_knows_the_target_bytes() -> None:
    assert DEFAULT_CHUNK_SIZE == 50_000 and isinstance(DEFAULT_CHUNK_SIZE, AdaptiveChunkSize)
    assert DEFAULT_CHUNK_SIZE.rows_for(80) == 39_321  # the benchmark's orders file: 3 MB of text a chunk
    assert DEFAULT_CHUNK_SIZE.rows_for(4096) == 5_000  # wide rows: fewer (never under 5,000)
    assert DEFAULT_CHUNK_SIZE.rows_for(4) == 500_000  # narrow rows: more (never over 500,000)
    assert DEFAULT_CHUNK_SIZE.rows_for(None) == 50_000


def test_wide_rows_come_in_smaller_chunks_and_a_set_chunk_size_is_kept(tmp_path: Path) -> None:
    context = RunContext(project_dir=tmp_path, connections=None)
    write(tmp_path / "wide.csv", 12_000, 1_600)  # ~1.6 KB a row: 3 MB would be ~2,000 rows, so the 5,000-row floor
    lengths = chunk_lengths(context, "wide.csv", DEFAULT_CHUNK_SIZE)
    assert sum(lengths) == 12_000
    assert 5_000 <= lengths[0] < 6_000
    assert chunk_lengths(context, "wide.csv", 100_000) == [12_000]  # an explicit number is taken as it is
    assert chunk_lengths(context, "wide.csv", DEFAULT_CHUNK_SIZE, limit=300) == [300]


def test_a_tiny_file_reads_as_before(tmp_path: Path) -> None:
    context = RunContext(project_dir=tmp_path, connections=None)
    (tmp_path / "one.csv").write_text("id\n1\n", encoding="utf-8")
    assert chunk_lengths(context, "one.csv", DEFAULT_CHUNK_SIZE) == [1]
