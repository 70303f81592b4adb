"""The Parquet source: real column types kept, batches numbered across the file, a column subset, errors."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_studio.core.context import RunContext
from etl_studio.core.errors import ConfigError
from etl_studio.core.sources.parquet_file import ParquetFileConfig, ParquetFileSource


def write_orders(path: Path, rows: int = 3) -> Path:
    table = pa.table(
        {
            "id": pa.array(range(rows), type=pa.int32()),
            "qty": pa.array([None if i % 2 else i for i in range(rows)], type=pa.int64()),
            "price": pa.array([decimal.Decimal("1.50") + i for i in range(rows)], type=pa.decimal128(10, 2)),
            "code": pa.array([f"{i:03d}" if i % 3 else None for i in range(rows)], type=pa.string()),
            "ratio": pa.array([i / 4 for i in range(rows)], type=pa.float64()),
            "ok": pa.array([i % 2 == 0 for i in range(rows)], type=pa.bool_()),
            "day": pa.array([dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(rows)], type=pa.date32()),
            "at": pa.array([dt.datetime(2024, 1, 1, 12) for _ in range(rows)], type=pa.timestamp("us")),
        }
    )
    pq.write_table(table, path, row_group_size=max(1, rows // 3))
    return path


def read(context: RunContext, chunk_size: int = 1000, limit: int | None = None, **config: object) -> list[pd.DataFrame]:
    return list(ParquetFileSource.from_spec(config, context).read_chunks(chunk_size, limit))


def test_types_are_kept_with_nullable_integers_and_exact_decimals(tmp_path: Path, context: RunContext) -> None:
    write_orders(tmp_path / "orders.parquet")
    [chunk] = read(context, path="orders.parquet")
    assert chunk["id"].dtype == "Int64" and chunk["qty"].dtype == "Int64"
    assert chunk["qty"].tolist()[1] is pd.NA and chunk["qty"].iloc[2] == 2
    assert chunk["price"].dtype == pd.ArrowDtype(pa.decimal128(10, 2))
    assert chunk["price"].iloc[1] == decimal.Decimal("2.50")
    assert chunk["code"].dtype == "string" and chunk["code"].iloc[0] is pd.NA and chunk["code"].iloc[1] == "001"
    assert chunk["ok"].dtype == "boolean"
    assert chunk["day"].iloc[2] == dt.date(2024, 1, 3)
    assert pd.api.types.is_datetime64_any_dtype(chunk["at"])
    described = {c.name: c.type for c in ParquetFileSource.from_spec({"path": "orders.parquet"}, context).columns()}
    assert described == {
        "id": "integer", "qty": "integer", "price": "decimal(10,2)", "code": "string",
        "ratio": "float", "ok": "boolean", "day": "date", "at": "datetime",
    }


def test_batches_continue_row_numbers_and_limit_stops_early(tmp_path: Path, context: RunContext) -> None:
    write_orders(tmp_path / "o.parquet", rows=2500)
    chunks = read(context, chunk_size=1000, path="o.parquet")
    assert sum(len(c) for c in chunks) == 2500
    assert all(len(c) <= 1000 for c in chunks)
    combined = pd.concat(chunks)
    assert list(combined.index) == list(range(2500))
    assert (combined["id"] == combined.index).all()
    limited = read(context, chunk_size=1000, limit=1200, path="o.parquet")
    assert sum(len(c) for c in limited) == 1200 and limited[-1].index[-1] == 1199
    assert ParquetFileSource.from_spec({"path": "o.parquet"}, context).estimate_rows() == 2500


def test_column_subset_and_empty_file(tmp_path: Path, context: RunContext) -> None:
    write_orders(tmp_path / "o.parquet")
    [chunk] = read(context, path="o.parquet", columns=["price", "id"])
    assert list(chunk.columns) == ["id", "price"]
    with pytest.raises(ConfigError, match="no column 'prise'"):
        read(context, path="o.parquet", columns=["prise"])
    pq.write_table(pa.table({"id": pa.array([], type=pa.int64())}), tmp_path / "empty.parquet")
    [empty] = read(context, path="empty.parquet")
    assert list(empty.columns) == ["id"] and empty.empty and empty["id"].dtype == "Int64"


def test_errors_name_the_file(tmp_path: Path, context: RunContext) -> None:
    with pytest.raises(ConfigError, match=f"Parquet file not found: {tmp_path / 'x.parquet'}"):
        read(context, path="x.parquet")
    (tmp_path / "bad.parquet").write_text("id,name\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.parquet is not a readable Parquet file"):
        read(context, path="bad.parquet")
    with pytest.raises(ConfigError, match="no Parquet file chosen"):
        read(context)


def test_default_config_round_trips() -> None:
    config = ParquetFileConfig()
    assert ParquetFileConfig.model_validate_json(config.model_dump_json()) == config
    assert all(field.description for field in ParquetFileConfig.model_fields.values())
