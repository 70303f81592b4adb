"""CSV and Parquet file targets: rows go to a temp file beside the target, renamed over it on commit."""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import Field, field_validator

from etl_studio.core.errors import ConfigError, DataError, EtlError
from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import targets
from etl_studio.core.project.models import TargetColumn
from etl_studio.core.targets.arrow_types import arrow_schema, chunk_to_arrow
from etl_studio.core.targets.base import ControlRecord, LoadSession, Target
from etl_studio.core.types import parse_type

_TEMP_SUFFIX = ".etl-tmp"


def _umask() -> int:
    # os.umask() can only be read by setting it, which races with other threads; Linux
    # reports it in /proc instead.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


class AtomicFile:
    """A temp file in the target's folder that replaces the target in one rename, or vanishes.

    Same folder, so os.replace is a rename on one file system (atomic), never a copy.
    """

    def __init__(self, final: Path) -> None:
        self.final = final
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=final.parent, prefix="." + final.name + ".", suffix=_TEMP_SUFFIX)
        except OSError as exc:
            raise ConfigError(f"cannot write {final}: {exc.strerror or exc}") from exc
        os.close(fd)
        self.path = Path(name)

    def publish(self) -> None:
        """fsync the data, give it the target's permissions, rename it over the target, fsync the folder."""
        with open(self.path, "rb+") as handle:
            os.fsync(handle.fileno())
        # mkstemp creates 0600; a replaced file keeps its old mode, a new one gets the usual one.
        mode = stat.S_IMODE(self.final.stat().st_mode) if self.final.exists() else 0o666 & ~_umask()
        os.chmod(self.path, mode)
        os.replace(self.path, self.final)
        if hasattr(os, "O_DIRECTORY"):  # POSIX: make the rename itself durable
            folder = os.open(self.final.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def _check_columns(columns: list[TargetColumn], where: str) -> None:
    if not columns:
        raise ConfigError(f"{where}: the mapping has no columns to write")
    names = [column.name for column in columns]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(f"{where}: column {', '.join(twice)} appears more than once in the mapping")


class FileLoadSession(LoadSession):
    """Writes into an AtomicFile; commit renames it over the target, rollback deletes it."""

    threaded_writes = True  # a file of its own, touched by one thread at a time

    def __init__(self, target: Path, temp: AtomicFile) -> None:
        self.target = target
        self.temp = temp
        self.closed = False

    def _write(self, chunk: pd.DataFrame) -> int:
        raise NotImplementedError

    def _finish(self) -> None:
        """Flush and close whatever writes into the temp file."""

    def _close_quietly(self) -> None:
        """Close writers after a failure, ignoring their errors."""

    def write(self, chunk: pd.DataFrame) -> int:
        if self.closed:
            raise RuntimeError(f"the load into {self.target} is already committed or rolled back")
        if len(chunk) == 0:
            return 0
        try:
            return self._write(chunk)
        except BaseException as exc:
            self.rollback()
            if isinstance(exc, OSError):
                raise EtlError(f"writing {self.target}: {exc.strerror or exc}") from exc
            raise

    def commit(self, control: ControlRecord) -> None:
        # Files have no control table: the rename is the commit (DESIGN 2, rule 5).
        if self.closed:
            raise RuntimeError(f"the load into {self.target} is already committed or rolled back")
        try:
            self._finish()
            self.temp.publish()
        except BaseException as exc:
            self.rollback()
            if isinstance(exc, OSError):
                raise EtlError(f"writing {self.target}: {exc.strerror or exc}") from exc
            raise
        self.closed = True

    def rollback(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._close_quietly()
        self.temp.discard()


# -- CSV ---------------------------------------------------------------------------------------


class CsvFileConfig(PluginConfig):
    """Where and how rows are written to a CSV file."""

    path: str = Field(min_length=1, description="CSV file to write, relative to the project file.")
    mode: Literal["replace", "append"] = Field(
        "replace", description="replace: the file holds this run's rows only; append: add them after the existing rows."
    )
    delimiter: str = Field(",", min_length=1, max_length=1, description="Character between values, e.g. , ; or a tab.")
    encoding: str = Field("utf-8", description="Text encoding of the file, e.g. utf-8, utf-8-sig (with BOM for Excel), latin-1.")
    header: bool = Field(True, description="Write the column names as the first line (not again when appending).")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding '{value}' (e.g. utf-8, utf-8-sig, latin-1, cp1252)") from None
        return value

    @field_validator("delimiter")
    @classmethod
    def _usable_delimiter(cls, value: str) -> str:
        if value in ('"', "\n", "\r"):
            raise ValueError("the delimiter cannot be a quote or a line break")
        return value


class _Transcoder:
    """Arrow writes UTF-8; this re-encodes to the file's encoding, with a BOM only at the file's start."""

    def __init__(self, encoding: str, appending: bool) -> None:
        self.encoding = encoding
        self.passthrough = codecs.lookup(encoding).name == "utf-8"
        self.encoder = codecs.getincrementalencoder(encoding)("strict")
        if appending:
            self.encoder.encode("")  # emits (and drops) the BOM of utf-8-sig / utf-16

    def text(self, value: str) -> bytes:
        return self.encoder.encode(value)

    def utf8(self, data: bytes) -> bytes:
        if self.passthrough:
            return data
        try:
            return self.encoder.encode(data.decode("utf-8"))
        except UnicodeEncodeError as exc:
            bad = exc.object[exc.start : exc.end]
            raise DataError(f"the value character {bad!r} cannot be written in encoding {self.encoding}") from None


def _header_line(names: list[str], delimiter: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerow(names)
    return buffer.getvalue()


def _read_csv_header(path: Path, encoding: str, delimiter: str) -> list[str] | None:
    """The first row of an existing CSV file, or None when the file is absent or empty."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with open(path, encoding=encoding, newline="") as handle:
        row = next(csv.reader(handle, delimiter=delimiter), None)
    if row and row[0].startswith("\ufeff"):
        row[0] = row[0][1:]
    return row


class CsvLoadSession(FileLoadSession):
    def __init__(self, target: Path, temp: AtomicFile, config: CsvFileConfig, columns: list[TargetColumn]) -> None:
        super().__init__(target, temp)
        self.columns = columns
        self.options = pacsv.WriteOptions(include_header=False, delimiter=config.delimiter, quoting_style="needed")
        appending = config.mode == "append" and target.exists() and target.stat().st_size > 0
        self.transcoder = _Transcoder(config.encoding, appending)
        self.handle = open(temp.path, "wb")
        try:
            if appending:
                with open(target, "rb") as existing:
                    shutil.copyfileobj(existing, self.handle, 1 << 20)
                    newline = self.transcoder.text("\n")
                    existing.seek(max(0, target.stat().st_size - len(newline)))
                    if existing.read() != newline:
                        self.handle.write(newline)  # the old last line had no line break
            elif config.header:
                self.handle.write(self.transcoder.text(_header_line([c.name for c in columns], config.delimiter)))
        except BaseException:
            self.handle.close()
            raise

    def _write(self, chunk: pd.DataFrame) -> int:
        table = chunk_to_arrow(chunk, self.columns)
        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer, self.options)
        self.handle.write(self.transcoder.utf8(buffer.getvalue()))
        return table.num_rows

    def _finish(self) -> None:
        self.handle.flush()
        self.handle.close()

    def _close_quietly(self) -> None:
        try:
            self.handle.close()
        except OSError:
            pass


@targets.register("csv_file")
class CsvFileTarget(Target):
    """Writes a CSV file atomically (temp file + rename), replacing it or appending to it."""

    config_model = CsvFileConfig
    title = "CSV file"
    description = "Write the rows to a CSV file; it changes only when the run succeeds."
    config: CsvFileConfig

    @property
    def file(self) -> Path:
        return self.context.resolve_path(self.config.path)

    def schema_differences(self, columns: list[TargetColumn]) -> list[str]:
        if self.config.mode != "append":
            return []
        try:
            existing = _read_csv_header(self.file, self.config.encoding, self.config.delimiter)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            return [f"cannot read the first line of {self.file}: {exc}"]
        if existing is None:
            return []
        names = [column.name for column in columns]
        if not self.config.header:
            if len(existing) != len(names):
                return [f"file has {len(existing)} values per line, mapping writes {len(names)} columns"]
            return []
        lines = [f"column {name}: missing in the header of {self.file.name}" for name in names if name not in existing]
        lines += [f"column {name}: in the file's header but not written by the mapping" for name in existing if name not in names]
        if not lines and existing != names:
            lines.append(f"columns are in a different order: file has {', '.join(existing)}; mapping writes {', '.join(names)}")
        return lines

    def describe_load(self, columns: list[TargetColumn]) -> str:
        how = "copy of the existing file plus the new rows" if self.config.mode == "append" else "the new rows"
        return (
            f"Write {how} to a temporary file beside {self.file}, then rename it over {self.file.name} "
            f"on success (delimiter {self.config.delimiter!r}, {self.config.encoding}, "
            f"header {'on' if self.config.header else 'off'})"
        )

    def open(self, columns: list[TargetColumn], run_id: str) -> CsvLoadSession:
        _check_columns(columns, str(self.file))
        differences = self.schema_differences(columns)
        if differences:
            raise ConfigError(f"cannot append to {self.file}: " + "; ".join(differences))
        temp = AtomicFile(self.file)
        try:
            return CsvLoadSession(self.file, temp, self.config, columns)
        except BaseException as exc:
            temp.discard()
            if isinstance(exc, OSError):
                raise ConfigError(f"cannot write {self.file}: {exc.strerror or exc}") from exc
            raise


# -- Parquet -----------------------------------------------------------------------------------


class ParquetFileConfig(PluginConfig):
    """Where and how rows are written to a Parquet file."""

    path: str = Field(min_length=1, description="Parquet file to write, relative to the project file.")
    mode: Literal["replace", "append"] = Field(
        "replace", description="replace: the file holds this run's rows only; append: rewrite it with the old and the new rows."
    )
    compression: Literal["snappy", "zstd", "gzip", "none"] = Field(
        "snappy", description="Compression of the column data (snappy is fast; zstd is smaller)."
    )


def _parquet_differences(path: Path, schema: pa.Schema, columns: list[TargetColumn]) -> list[str]:
    existing = pq.read_schema(path)
    lines: list[str] = []
    for column, field in zip(columns, schema, strict=True):
        if field.name not in existing.names:
            lines.append(f"column {column.name}: missing in {path.name}")
            continue
        have = existing.field(field.name).type
        if not have.equals(field.type):
            lines.append(f"column {column.name}: file has {have}, mapping says {parse_type(column.type)}")
    lines += [f"column {name}: in {path.name} but not written by the mapping" for name in existing.names if name not in schema.names]
    return lines


# Parquet's footer carries the ids of the runs that wrote the file: it is renamed into place
# together with the data, so it proves a commit the way the control table does for databases.
RUNS_METADATA_KEY = b"etl_studio.runs"
_RUNS_KEPT = 100


def _runs_in(path: Path) -> list[str]:
    metadata = pq.read_schema(path).metadata or {}
    try:
        runs = json.loads(metadata.get(RUNS_METADATA_KEY, b"[]"))
    except ValueError:
        return []
    return [str(run) for run in runs] if isinstance(runs, list) else []


class ParquetLoadSession(FileLoadSession):
    def __init__(
        self, target: Path, temp: AtomicFile, config: ParquetFileConfig, columns: list[TargetColumn], run_id: str
    ) -> None:
        super().__init__(target, temp)
        self.columns = columns
        earlier = _runs_in(target) if config.mode == "append" and target.exists() else []
        runs = json.dumps((earlier + [run_id])[-_RUNS_KEPT:]).encode()
        self.schema = arrow_schema(columns).with_metadata({RUNS_METADATA_KEY: runs})
        compression = None if config.compression == "none" else config.compression
        self.writer = pq.ParquetWriter(str(temp.path), self.schema, compression=compression)
        try:
            if config.mode == "append" and target.exists():
                # Parquet files cannot be appended to in place: the old rows are streamed
                # into the new file batch by batch, so memory stays bounded.
                with pq.ParquetFile(target) as existing:
                    for batch in existing.iter_batches(columns=self.schema.names):
                        self.writer.write_table(pa.Table.from_batches([batch]).select(self.schema.names).cast(self.schema))
        except BaseException:
            self._close_quietly()
            raise

    def _write(self, chunk: pd.DataFrame) -> int:
        # Every chunk gets the same schema, whatever dtypes it arrived with.
        table = chunk_to_arrow(chunk, self.columns).cast(self.schema)
        self.writer.write_table(table)
        return table.num_rows

    def _finish(self) -> None:
        self.writer.close()  # writes the footer; without it the file is unreadable

    def _close_quietly(self) -> None:
        try:
            self.writer.close()
        except Exception:  # noqa: BLE001 - the temp file is deleted anyway
            pass


@targets.register("parquet_file")
class ParquetFileTarget(Target):
    """Writes a Parquet file atomically (temp file + rename), streaming chunk by chunk."""

    config_model = ParquetFileConfig
    title = "Parquet file"
    description = "Write the rows to a Parquet file; it changes only when the run succeeds."
    config: ParquetFileConfig

    @property
    def file(self) -> Path:
        return self.context.resolve_path(self.config.path)

    def schema_differences(self, columns: list[TargetColumn]) -> list[str]:
        if self.config.mode != "append" or not self.file.exists():
            return []
        try:
            return _parquet_differences(self.file, arrow_schema(columns), columns)
        except (OSError, pa.ArrowException) as exc:
            return [f"cannot read the schema of {self.file}: {exc}"]

    def describe_load(self, columns: list[TargetColumn]) -> str:
        how = "the existing rows plus the new ones" if self.config.mode == "append" else "the new rows"
        return (
            f"Stream {how} into a temporary Parquet file beside {self.file} ({self.config.compression}), "
            f"then rename it over {self.file.name} on success"
        )

    def committed_runs(self, pipeline: str) -> set[str] | None:
        """Runs whose file is in place (read from the footer); run ids are unique, so any pipeline's match."""
        if not self.file.exists():
            return set()
        try:
            return set(_runs_in(self.file))
        except (OSError, pa.ArrowException):
            return None

    def open(self, columns: list[TargetColumn], run_id: str) -> ParquetLoadSession:
        _check_columns(columns, str(self.file))
        differences = self.schema_differences(columns)
        if differences:
            raise ConfigError(f"cannot append to {self.file}: " + "; ".join(differences))
        temp = AtomicFile(self.file)
        try:
            return ParquetLoadSession(self.file, temp, self.config, columns, run_id)
        except BaseException as exc:
            temp.discard()
            if isinstance(exc, OSError):
                raise ConfigError(f"cannot write {self.file}: {exc.strerror or exc}") from exc
            raise
