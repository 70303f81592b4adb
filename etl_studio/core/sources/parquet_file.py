"""The Parquet source: streams a Parquet file batch by batch, keeping its column types."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field

from etl_studio.core.errors import ConfigError
from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import sources
from etl_studio.core.sources._frames import table_to_frame
from etl_studio.core.sources.base import Source


class ParquetFileConfig(PluginConfig):
    path: str = Field("", description="The Parquet file, relative to the project file")
    columns: list[str] | None = Field(None, description="Read only these columns (in file order); empty: all columns")


@sources.register("parquet_file")
class ParquetFileSource(Source):
    config_model = ParquetFileConfig
    title = "Parquet file"
    description = "Reads a Parquet file with its column types (integers, decimals, dates ...)"

    config: ParquetFileConfig

    def file(self) -> Path:
        if not self.config.path:
            raise ConfigError("no Parquet file chosen: set the source's path")
        resolved = self.context.resolve_path(self.config.path)
        if not resolved.is_file():
            raise ConfigError(f"Parquet file not found: {resolved}")
        return resolved

    def _open(self) -> pq.ParquetFile:
        path = self.file()
        try:
            return pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ConfigError(f"{path.name} is not a readable Parquet file: {str(exc).splitlines()[0]}") from None

    def _selected(self, parquet: pq.ParquetFile) -> list[str]:
        names = list(parquet.schema_arrow.names)
        if not self.config.columns:
            return names
        missing = [c for c in self.config.columns if c not in names]
        if missing:
            raise ConfigError(f"{self.file().name}: no column {', '.join(map(repr, missing))} (the file has: {', '.join(names)})")
        wanted = set(self.config.columns)
        return [n for n in names if n in wanted]

    def read_chunks(self, chunk_size: int, limit: int | None = None) -> Iterator[pd.DataFrame]:
        self.context.check_cancelled()
        parquet = self._open()
        try:
            columns = self._selected(parquet)
            batch_size = max(1, min(chunk_size, limit) if limit is not None else chunk_size)
            start = 0
            for batch in parquet.iter_batches(batch_size=batch_size, columns=columns):
                self.context.check_cancelled()
                if limit is not None and start + batch.num_rows > limit:
                    batch = batch.slice(0, limit - start)
                if batch.num_rows == 0:
                    continue
                yield table_to_frame(batch, start)
                start += batch.num_rows
                if limit is not None and start >= limit:
                    return
            if start == 0:
                schema = parquet.schema_arrow
                yield table_to_frame(pa.table({n: pa.array([], type=schema.field(n).type) for n in columns}), 0)
        except pa.ArrowException as exc:
            raise ConfigError(f"{self.file().name}: cannot read the Parquet data: {str(exc).splitlines()[0]}") from None
        finally:
            parquet.close()

    def estimate_rows(self) -> int | None:
        try:
            parquet = self._open()
        except ConfigError:
            return None
        try:
            return int(parquet.metadata.num_rows)  # exact, from the footer
        finally:
            parquet.close()

