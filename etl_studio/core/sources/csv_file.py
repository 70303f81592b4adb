"""The CSV file source: streams a delimited text file as chunks of nullable text columns."""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from pydantic import Field, field_validator

from etl_studio.core.errors import ConfigError
from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import sources
from etl_studio.core.sources._frames import TEXT, rebatch, table_to_frame, unique_names
from etl_studio.core.sources.base import Source
from etl_studio.core.sources.inference import detect_csv_format

AUTO = "auto"
_MIN_BLOCK = 64 * 1024  # a preview of 200 rows needs one small block, not megabytes
_MAX_BLOCK = 256 * 1024  # larger blocks read no faster, and Arrow parses several ahead: 1 MB blocks held ~25 MB more
_BYTES_PER_ROW_GUESS = 256
_ESTIMATE_SAMPLE = 64 * 1024
_RAGGED = re.compile(r"Expected (\d+) columns, got (\d+)")


class CsvFileConfig(PluginConfig):
    path: str = Field("", description="The CSV file, relative to the project file")
    delimiter: str = Field(",", description='Character between fields, e.g. "," ";" "|" or a tab; "auto" detects it')
    encoding: str = Field("utf-8", description='Text encoding of the file, e.g. "utf-8", "latin-1", "cp1252"; "auto" detects it')
    header_row: int | None = Field(
        0, ge=0, description="0-based line holding the column names (lines above it are skipped); empty: no header, columns are col_1, col_2 ..."
    )
    quote_char: str | None = Field('"', description="Character around values that contain the delimiter; empty: values are never quoted")
    escape_char: str | None = Field(
        None, description="Character that escapes the next one inside a quoted value; empty: a quote inside a value is written twice"
    )
    null_values: list[str] = Field(
        default_factory=lambda: [""], description='Values read as NULL (missing), e.g. "", "NULL", "N/A"; compared exactly'
    )
    skip_rows_after_header: int = Field(0, ge=0, description="Lines to skip between the header and the first data row (units, notes ...)")
    columns: list[str] | None = Field(None, description="Read only these columns (in file order); empty: all columns")

    @field_validator("delimiter")
    @classmethod
    def _one_character_or_auto(cls, value: str) -> str:
        if value != AUTO and len(value) != 1:
            raise ValueError(f'the delimiter must be one character or "auto", not {value!r}')
        return value

    @field_validator("quote_char", "escape_char")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value == "":
            return None
        if value is not None and len(value) != 1:
            raise ValueError(f"must be one character, not {value!r}")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        if value != AUTO:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f'unknown encoding {value!r} (try "utf-8", "latin-1", "cp1252" or "auto")') from None
        return value


@sources.register("csv_file")
class CsvFileSource(Source):
    config_model = CsvFileConfig
    title = "CSV file"
    description = "Reads a delimited text file; every column comes in as text"

    config: CsvFileConfig

    # -- settings resolved against the file -------------------------------------------------

    def file(self) -> Path:
        if not self.config.path:
            raise ConfigError("no CSV file chosen: set the source's path")
        resolved = self.context.resolve_path(self.config.path)
        if not resolved.is_file():
            what = "is a folder, not a file" if resolved.is_dir() else "not found"
            raise ConfigError(f"CSV file {what}: {resolved}")
        return resolved

    def dialect(self) -> tuple[str, str]:
        """(encoding, delimiter) with any "auto" replaced by what the file looks like."""
        encoding, delimiter = self.config.encoding, self.config.delimiter
        if AUTO in (encoding, delimiter):
            found_encoding, found_delimiter, _ = detect_csv_format(self.file())
            encoding = found_encoding if encoding == AUTO else encoding
            delimiter = found_delimiter if delimiter == AUTO else delimiter
        return encoding, delimiter

    def column_names(self) -> list[str]:
        """All columns of the file (before the ``columns`` subset), in file order."""
        path = self.file()
        encoding, delimiter = self.dialect()
        first = self._first_row(path, encoding, delimiter)
        if first is None:
            return []
        if self.config.header_row is None:
            return [f"col_{i}" for i in range(1, len(first) + 1)]
        return unique_names(first)

    def _first_row(self, path: Path, encoding: str, delimiter: str) -> list[str] | None:
        """The header row (or, without a header, the first data row, to count the columns)."""
        skip = self.config.header_row or 0
        quoting = csv.QUOTE_MINIMAL if self.config.quote_char else csv.QUOTE_NONE
        try:
            with open(path, encoding=_python_encoding(encoding), newline="") as handle:
                reader = csv.reader(
                    handle,
                    delimiter=delimiter,
                    quotechar=self.config.quote_char or '"',
                    escapechar=self.config.escape_char,
                    quoting=quoting,
                )
                for number, row in enumerate(reader):
                    if number >= skip and row:
                        return row
        except UnicodeDecodeError:
            raise self._decode_error(path, encoding) from None
        except csv.Error as exc:
            raise ConfigError(f"{path}: cannot read the header line: {exc}") from None
        return None

    # -- reading ------------------------------------------------------------------------------

    def read_chunks(self, chunk_size: int, limit: int | None = None) -> Iterator[pd.DataFrame]:
        self.context.check_cancelled()
        path = self.file()
        encoding, delimiter = self.dialect()
        names = self.column_names()
        if not names:
            return  # an empty file: no columns, no rows
        wanted = self._selected(names, path)
        rows_for = getattr(chunk_size, "rows_for", None)  # the engine's default: sized by row width
        if rows_for is not None:
            chunk_size = rows_for(self._bytes_per_row(path))
        rows_per_chunk = max(1, min(chunk_size, limit) if limit is not None else chunk_size)
        block_size = min(max(rows_per_chunk * _BYTES_PER_ROW_GUESS, _MIN_BLOCK), _MAX_BLOCK)
        reader = self._open(path, encoding, delimiter, names, wanted, block_size)
        start = 0
        try:
            for table in rebatch(reader, rows_per_chunk):
                self.context.check_cancelled()
                if limit is not None and start + table.num_rows > limit:
                    table = table.slice(0, limit - start)
                yield table_to_frame(table, start)
                start += table.num_rows
                if limit is not None and start >= limit:
                    return
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise self._explain(exc, path, encoding, delimiter, names) from None
        if start == 0:
            # A header without rows still tells the editor which columns there are.
            yield pd.DataFrame({name: pd.array([], dtype=TEXT) for name in wanted})

    def _selected(self, names: list[str], path: Path) -> list[str]:
        if not self.config.columns:
            return names
        missing = [c for c in self.config.columns if c not in names]
        if missing:
            raise ConfigError(f"{path.name}: no column {', '.join(map(repr, missing))} (the file has: {', '.join(names)})")
        wanted = set(self.config.columns)
        return [n for n in names if n in wanted]

    def _open(
        self, path: Path, encoding: str, delimiter: str, names: list[str], wanted: list[str], block_size: int
    ) -> pacsv.CSVStreamingReader:
        header_lines = 0 if self.config.header_row is None else self.config.header_row + 1
        while True:
            read_options = pacsv.ReadOptions(
                skip_rows=header_lines,
                column_names=names,
                skip_rows_after_names=self.config.skip_rows_after_header,
                block_size=block_size,
                encoding=_arrow_encoding(encoding),
            )
            parse_options = pacsv.ParseOptions(
                delimiter=delimiter,
                quote_char=self.config.quote_char or False,
                escape_char=self.config.escape_char or False,
                double_quote=True,
                newlines_in_values=True,
            )
            convert_options = pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                null_values=list(self.config.null_values),
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                include_columns=wanted,
            )
            try:
                return pacsv.open_csv(path, read_options=read_options, parse_options=parse_options, convert_options=convert_options)
            except pa.ArrowInvalid as exc:
                # The lines above the data must fit in one block; grow it rather than fail.
                if "larger than block size" in str(exc) and block_size < 64 * _MAX_BLOCK:
                    block_size *= 8
                    continue
                if "Empty CSV file" in str(exc) or "too short" in str(exc):
                    return _no_batches()  # type: ignore[return-value]
                raise self._explain(exc, path, encoding, delimiter, names) from None
            except UnicodeDecodeError:
                raise self._decode_error(path, encoding) from None

    # -- errors an analyst can act on ----------------------------------------------------------

    def _explain(self, exc: BaseException, path: Path, encoding: str, delimiter: str, names: list[str]) -> ConfigError:
        message = str(exc)
        if isinstance(exc, UnicodeDecodeError) or "invalid UTF8" in message:
            return self._decode_error(path, encoding)
        ragged = _RAGGED.search(message)
        if ragged:
            expected, got = ragged.groups()
            line = self._ragged_line(path, encoding, delimiter, names)
            where = f"line {line}" if line else "a line"
            return ConfigError(
                f"{path.name}: {where} has {got} fields but the header has {expected} "
                f"(check the delimiter {delimiter!r} and the quote character, or fix that line)"
            )
        return ConfigError(f"{path.name}: cannot read the CSV file: {message.splitlines()[0]}")

    def _ragged_line(self, path: Path, encoding: str, delimiter: str, names: list[str]) -> int | None:
        """The 1-based line of the first row with a wrong field count.

        Arrow knows row numbers only when it parses on one thread, so the fast read runs on
        several and this slower pass runs only after a failure.
        """
        found: list[int | None] = []

        def note(row: pacsv.InvalidRow) -> str:
            found.append(row.number)
            return "error"

        header_lines = 0 if self.config.header_row is None else self.config.header_row + 1
        try:
            reader = pacsv.open_csv(
                path,
                read_options=pacsv.ReadOptions(
                    skip_rows=header_lines,
                    column_names=names,
                    skip_rows_after_names=self.config.skip_rows_after_header,
                    use_threads=False,
                    encoding=_arrow_encoding(encoding),
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=delimiter,
                    quote_char=self.config.quote_char or False,
                    escape_char=self.config.escape_char or False,
                    newlines_in_values=True,
                    invalid_row_handler=note,
                ),
                convert_options=pacsv.ConvertOptions(column_types={name: pa.string() for name in names}, include_columns=names[:1]),
            )
            for _ in reader:
                self.context.check_cancelled()
        except (pa.ArrowInvalid, UnicodeDecodeError):
            pass
        return found[0] if found else None

    def _decode_error(self, path: Path, encoding: str) -> ConfigError:
        line = _first_undecodable_line(path, encoding)
        where = f" on line {line}" if line else ""
        return ConfigError(
            f'{path.name}: bytes that are not valid {encoding} text{where}; set the encoding to "auto" '
            f'to detect it, or name it (e.g. "latin-1", "cp1252")'
        )

    # -- progress ------------------------------------------------------------------------------

    def _bytes_per_row(self, path: Path) -> float | None:
        """Average length of the first lines (a 64 KB sample); None for a file too short to tell."""
        try:
            with open(path, "rb") as handle:
                sample = handle.read(_ESTIMATE_SAMPLE)
        except OSError:
            return None
        lines = sample.count(b"\n")
        return len(sample) / lines if lines >= 2 else None

    def estimate_rows(self) -> int | None:
        """File size divided by the average length of the first lines: cheap, roughly right."""
        try:
            path = self.file()
            size = path.stat().st_size
            with open(path, "rb") as handle:
                sample = handle.read(_ESTIMATE_SAMPLE)
        except (ConfigError, OSError):
            return None
        lines = sample.count(b"\n")
        if not sample:
            return 0
        if len(sample) == size:
            lines += 0 if sample.endswith(b"\n") else 1
            estimate = lines
        elif lines == 0:
            return None
        else:
            estimate = round(size / (len(sample) / lines))
        skipped = (0 if self.config.header_row is None else self.config.header_row + 1) + self.config.skip_rows_after_header
        return max(estimate - skipped, 0)


def _no_batches() -> Iterator[pa.RecordBatch]:
    return iter(())


def _python_encoding(encoding: str) -> str:
    # A byte-order mark is not part of the first column's name.
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def _arrow_encoding(encoding: str) -> str:
    # Arrow reads UTF-8 natively (and skips a BOM); naming it otherwise would transcode in Python.
    return "utf8" if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig") else encoding


def _first_undecodable_line(path: Path, encoding: str) -> int | None:
    decoder = codecs.getincrementaldecoder(_python_encoding(encoding))()
    line = 1
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return line + block.count(b"\n", 0, max(exc.start, 0))
            line += block.count(b"\n")
    return None
