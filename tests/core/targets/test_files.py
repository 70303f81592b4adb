"""CSV and Parquet file targets: the file changes only on commit, rollback leaves it byte-identical."""

from __future__ import annotations

import os
import stat
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pydantic
import pytest

from etl_studio.core.connections import ConnectionPool
from etl_studio.core.context import RunContext
from etl_studio.core.errors import ConfigError, DataError
from etl_studio.core.plugins import load_builtin_plugins, targets
from etl_studio.core.project.models import Project, TargetColumn
from etl_studio.core.targets.base import ControlRecord, Target
from etl_studio.core.targets.files import CsvFileConfig, CsvFileTarget, ParquetFileTarget

load_builtin_plugins()

COLUMNS = [
    TargetColumn(name="id", type="integer"),
    TargetColumn(name="name", type="string"),
    TargetColumn(name="amount", type="decimal(10,2)"),
    TargetColumn(name="day", type="date"),
    TargetColumn(name="at", type="datetime"),
    TargetColumn(name="ok", type="boolean"),
]


def frame(*ids: int) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {
            "id": pd.array(list(ids), dtype="Int64"),
            "name": pd.array([f"n{i}" if i % 2 else None for i in ids], dtype="string"),
            "amount": pd.array([Decimal("7427.39")] * n, dtype=pd.ArrowDtype(pa.decimal128(10, 2))),
            "day": pd.array([date(2024, 1, 2)] * n, dtype=pd.ArrowDtype(pa.date32())),
            "at": pd.Series([datetime(2024, 1, 2, 3, 4, 5)] * n, dtype="datetime64[us]"),
            "ok": pd.array([True] * n, dtype="boolean"),
        }
    )


def make(kind: str, tmp_path: Path, **config: object) -> Target:
    context = RunContext(project_dir=tmp_path, connections=ConnectionPool(Project(), tmp_path))
    return targets.get(kind).from_spec(config, context)


def control() -> ControlRecord:
    return ControlRecord("run-1", "p", datetime.now(timezone.utc), 0)


def run(target: Target, *chunks: pd.DataFrame) -> None:
    session = target.open(COLUMNS, "run-1")
    for chunk in chunks:
        session.write(chunk)
    session.commit(control())


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".etl-tmp"))


def test_registered_keys_and_documented_fields() -> None:
    assert targets.get("csv_file") is CsvFileTarget
    assert targets.get("parquet_file") is ParquetFileTarget
    for cls in (CsvFileTarget, ParquetFileTarget):
        properties = cls.config_model.model_json_schema()["properties"]
        assert all(prop.get("description") for prop in properties.values())


def test_csv_config_rejects_bad_encoding_and_delimiter() -> None:
    with pytest.raises(pydantic.ValidationError, match="unknown encoding"):
        CsvFileConfig(path="a.csv", encoding="klingon")
    with pytest.raises(pydantic.ValidationError):
        CsvFileConfig(path="a.csv", delimiter=";;")


# -- CSV ---------------------------------------------------------------------------------------


def test_csv_appears_only_on_commit(tmp_path: Path) -> None:
    target = make("csv_file", tmp_path, path="out/orders.csv")
    session = target.open(COLUMNS, "run-1")
    session.write(frame(1, 2))
    assert not (tmp_path / "out" / "orders.csv").exists()  # invisible before commit
    session.write(frame(3))
    session.commit(control())
    text = (tmp_path / "out" / "orders.csv").read_text()
    lines = text.splitlines()
    assert lines[0] == "id,name,amount,day,at,ok"
    assert lines[1].startswith('1,"n1",7427.39,2024-01-02,2024-01-02 03:04:05')
    assert lines[2].startswith("2,,7427.39")  # NULL is written as an empty field
    assert len(lines) == 4
    assert leftovers(tmp_path / "out") == []
    mode = stat.S_IMODE((tmp_path / "out" / "orders.csv").stat().st_mode)
    assert mode & 0o044, "a new file gets the usual permissions, not mkstemp's 0600"
    read = pd.read_csv(tmp_path / "out" / "orders.csv")
    assert list(read["id"]) == [1, 2, 3]


def test_csv_rollback_leaves_existing_file_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(b"id;name\r\n9;old\r\n")
    os.chmod(path, 0o640)
    before = path.read_bytes()
    for mode in ("replace", "append"):
        target = make("csv_file", tmp_path, path="orders.csv", mode=mode, delimiter=";")
        session = target.open(COLUMNS[:2], "run-1")
        session.write(frame(1)[["id", "name"]])
        session.rollback()
        session.rollback()  # idempotent
        assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_csv_failed_write_rolls_back(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("id,name,amount,day,at,ok\n")
    target = make("csv_file", tmp_path, path="orders.csv")
    session = target.open(COLUMNS, "run-1")
    session.write(frame(1))
    bad = frame(2).assign(amount=pd.Series([Decimal("1.234")], dtype=object))  # does not fit decimal(10,2)
    with pytest.raises(DataError, match="amount"):
        session.write(bad)
    assert path.read_text() == "id,name,amount,day,at,ok\n"
    assert leftovers(tmp_path) == []


def test_csv_replace_keeps_permissions(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("old\n")
    os.chmod(path, 0o640)
    run(make("csv_file", tmp_path, path=str(path)), frame(1))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert "old" not in path.read_text()


def test_csv_append_adds_rows_without_second_header(tmp_path: Path) -> None:
    target = make("csv_file", tmp_path, path="orders.csv", mode="append")
    run(target, frame(1))
    run(target, frame(2, 3))
    lines = (tmp_path / "orders.csv").read_text().splitlines()
    assert lines[0] == "id,name,amount,day,at,ok"
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2", "3"]


def test_csv_append_to_file_without_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("id,name\n0,zero")
    run_cols = COLUMNS[:2]
    target = make("csv_file", tmp_path, path="a.csv", mode="append")
    session = target.open(run_cols, "r")
    session.write(frame(1)[["id", "name"]])
    session.commit(control())
    assert path.read_text() == 'id,name\n0,zero\n1,"n1"\n'


def test_csv_append_header_mismatch_is_reported_and_refused(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,title,extra\n1,x,y\n")
    target = make("csv_file", tmp_path, path="a.csv", mode="append")
    lines = target.schema_differences(COLUMNS[:2])
    assert "column name: missing in the header of a.csv" in lines
    assert "column title: in the file's header but not written by the mapping" in lines
    assert "column extra: in the file's header but not written by the mapping" in lines
    with pytest.raises(ConfigError, match="cannot append"):
        target.open(COLUMNS[:2], "r")
    reordered = make("csv_file", tmp_path, path="a.csv", mode="append")
    (tmp_path / "a.csv").write_text("name,id\n")
    assert reordered.schema_differences(COLUMNS[:2]) == [
        "columns are in a different order: file has name, id; mapping writes id, name"
    ]
    assert make("csv_file", tmp_path, path="a.csv").schema_differences(COLUMNS[:2]) == []  # replace: no matter


def test_csv_encoding_and_bom_once(tmp_path: Path) -> None:
    target = make("csv_file", tmp_path, path="x.csv", mode="append", encoding="utf-8-sig", delimiter="\t")
    columns = [TargetColumn(name="Stadt", type="string")]
    for value in ("Zürich", "Köln"):
        session = target.open(columns, "r")
        session.write(pd.DataFrame({"Stadt": [value]}))
        session.commit(control())
    data = (tmp_path / "x.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\xef\xbb\xbf") == 1
    assert data.decode("utf-8-sig") == 'Stadt\n"Zürich"\n"Köln"\n'

    latin = make("csv_file", tmp_path, path="l.csv", encoding="latin-1")
    session = latin.open(columns, "r")
    session.write(pd.DataFrame({"Stadt": ["Zürich"]}))
    with pytest.raises(DataError, match="latin-1"):
        session.write(pd.DataFrame({"Stadt": ["東京"]}))
    assert not (tmp_path / "l.csv").exists()


def test_csv_header_off(tmp_path: Path) -> None:
    run(make("csv_file", tmp_path, path="h.csv", header=False), frame(1))
    assert (tmp_path / "h.csv").read_text().startswith('1,"n1",')


# -- Parquet -----------------------------------------------------------------------------------


def test_parquet_commit_streams_chunks_with_one_schema(tmp_path: Path) -> None:
    target = make("parquet_file", tmp_path, path="data/orders.parquet")
    session = target.open(COLUMNS, "run-1")
    session.write(frame(1, 2))
    # A later chunk with plain object/numpy dtypes still lands in the same schema.
    session.write(
        pd.DataFrame(
            {
                "id": [3],
                "name": [None],
                "amount": [Decimal("1.5")],
                "day": [date(2024, 3, 1)],
                "at": [pd.Timestamp("2024-03-01 10:00:00")],
                "ok": [False],
            }
        )
    )
    assert not (tmp_path / "data" / "orders.parquet").exists()
    session.commit(control())
    table = pq.read_table(tmp_path / "data" / "orders.parquet")
    assert table.schema.field("amount").type == pa.decimal128(10, 2)
    assert table.schema.field("at").type == pa.timestamp("us")
    assert table.column("id").to_pylist() == [1, 2, 3]
    assert table.column("amount").to_pylist() == [Decimal("7427.39"), Decimal("7427.39"), Decimal("1.50")]
    assert table.column("name").to_pylist() == ["n1", None, None]
    assert leftovers(tmp_path / "data") == []


def test_parquet_rollback_leaves_existing_file_byte_identical(tmp_path: Path) -> None:
    run(make("parquet_file", tmp_path, path="o.parquet"), frame(1))
    before = (tmp_path / "o.parquet").read_bytes()
    for mode in ("replace", "append"):
        session = make("parquet_file", tmp_path, path="o.parquet", mode=mode).open(COLUMNS, "run-2")
        session.write(frame(2))
        session.rollback()
        assert (tmp_path / "o.parquet").read_bytes() == before
    assert leftovers(tmp_path) == []


def test_parquet_append_rewrites_old_and_new(tmp_path: Path) -> None:
    target = make("parquet_file", tmp_path, path="o.parquet", mode="append", compression="zstd")
    run(target, frame(1))
    run(target, frame(2, 3))
    assert pq.read_table(tmp_path / "o.parquet").column("id").to_pylist() == [1, 2, 3]


def test_parquet_append_schema_mismatch(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": pa.array(["x"]), "other": pa.array([1])}), tmp_path / "o.parquet")
    target = make("parquet_file", tmp_path, path="o.parquet", mode="append")
    lines = target.schema_differences(COLUMNS[:2])
    assert "column id: file has string, mapping says integer" in lines
    assert "column name: missing in o.parquet" in lines
    assert "column other: in o.parquet but not written by the mapping" in lines
    with pytest.raises(ConfigError):
        target.open(COLUMNS[:2], "r")


def test_parquet_footer_proves_which_runs_committed(tmp_path: Path) -> None:
    target = make("parquet_file", tmp_path, path="o.parquet", mode="append")
    assert target.committed_runs("p") == set()
    for run_id in ("run-a", "run-b"):
        session = target.open(COLUMNS, run_id)
        session.write(frame(1))
        session.commit(control())
    session = target.open(COLUMNS, "run-c")
    session.write(frame(2))
    session.rollback()
    assert target.committed_runs("p") == {"run-a", "run-b"}
    replaced = make("parquet_file", tmp_path, path="o.parquet")
    run(replaced, frame(3))
    assert replaced.committed_runs("p") == {"run-1"}
    assert pq.read_table(tmp_path / "o.parquet").column("id").to_pylist() == [3]


def test_csv_cannot_prove_commits() -> None:
    # No place in a CSV file for the proof: reconciliation treats such runs as unknown.
    assert CsvFileTarget.committed_runs is Target.committed_runs
