"""The Excel source: streams one sheet of an .xlsx workbook as chunks of text columns."""

from __future__ import annotations

import datetime as dt
import decimal
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import Field

from etl_studio.core.errors import ConfigError
from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import sources
from etl_studio.core.sources._frames import TEXT, unique_names
from etl_studio.core.sources.base import Source


class ExcelFileConfig(PluginConfig):
    path: str = Field("", description="The Excel workbook (.xlsx or .xlsm), relative to the project file")
    sheet: str | int = Field(0, description="Sheet name, or its 0-based position in the workbook (0: the first sheet)")
    header_row: int | None = Field(
        0, ge=0, description="0-based row holding the column names (rows above it are skipped); empty: no header, columns are col_1, col_2 ..."
    )


@sources.register("excel_file")
class ExcelFileSource(Source):
    config_model = ExcelFileConfig
    title = "Excel file"
    description = "Reads one sheet of an Excel workbook; every column comes in as text"

    config: ExcelFileConfig

    def file(self) -> Path:
        if not self.config.path:
            raise ConfigError("no Excel file chosen: set the source's path")
        resolved = self.context.resolve_path(self.config.path)
        if not resolved.is_file():
            raise ConfigError(f"Excel file not found: {resolved}")
        return resolved

    def _open(self) -> Any:
        # openpyxl is imported here, not at module level: a run that reads no workbook doesn't pay for it.
        from openpyxl import load_workbook
        from openpyxl.utils.exceptions import InvalidFileException

        path = self.file()
        try:
            # read_only streams rows from the zip instead of building the whole sheet in memory.
            return load_workbook(path, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
            hint = " (old .xls files: save them as .xlsx first)" if path.suffix.lower() == ".xls" else ""
            raise ConfigError(f"{path.name} is not a readable .xlsx workbook{hint}: {exc}") from None

    def _sheet(self, workbook: Any) -> Any:
        names = workbook.sheetnames
        sheet = self.config.sheet
        if isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                raise ConfigError(f"the workbook has {len(names)} sheet(s), no sheet number {sheet} (sheets: {', '.join(names)})")
            return workbook[names[sheet]]
        if sheet not in names:
            raise ConfigError(f"no sheet named {sheet!r} (sheets: {', '.join(names)})")
        return workbook[sheet]

    def read_chunks(self, chunk_size: int, limit: int | None = None) -> Iterator[pd.DataFrame]:
        self.context.check_cancelled()
        workbook = self._open()
        try:
            yield from self._read(self._sheet(workbook), max(1, chunk_size), limit)
        finally:
            workbook.close()  # read-only workbooks keep the file open until closed

    def _read(self, sheet: Any, chunk_size: int, limit: int | None) -> Iterator[pd.DataFrame]:
        rows = sheet.iter_rows(values_only=True)
        header_row = self.config.header_row
        names: list[str] | None = None
        if header_row is not None:
            header: tuple[Any, ...] | None = None
            for position, row in enumerate(rows):
                if position == header_row:
                    header = row
                    break
            if header is None:
                return
            names = unique_names(_cell_text(v) for v in _trim(header))
            if not names:
                return
        first_data_line = (header_row + 2) if header_row is not None else 1  # 1-based sheet row
        buffer: list[list[str | None]] = []
        blank_run: list[list[str | None]] = []  # blank rows are held back: trailing ones are not data
        start = 0
        for offset, row in enumerate(rows):
            values = [_cell_text(v) for v in row]
            if names is None:
                names = [f"col_{i}" for i in range(1, len(_trim(row)) + 1)]
            width = len(names)
            beyond = [i for i, v in enumerate(values[width:], start=width) if v is not None]
            if beyond:
                from openpyxl.utils import get_column_letter

                cell = f"{get_column_letter(beyond[0] + 1)}{first_data_line + offset}"
                raise ConfigError(f"cell {cell} has a value but its column has no header; add a header or remove the value")
            values = (values + [None] * width)[:width]
            if all(v is None for v in values):
                blank_run.append(values)
                continue
            buffer.extend(blank_run)
            blank_run.clear()
            buffer.append(values)
            while len(buffer) >= chunk_size or (limit is not None and start + len(buffer) >= limit):
                take = chunk_size if limit is None else min(chunk_size, limit - start)
                yield self._frame(buffer[:take], names, start)
                start += take
                del buffer[:take]
                if limit is not None and start >= limit:
                    return
        if names and (buffer or start == 0):
            yield self._frame(buffer, names, start)

    def _frame(self, rows: list[list[str | None]], names: list[str], start: int) -> pd.DataFrame:
        self.context.check_cancelled()
        columns = list(zip(*rows)) if rows else [() for _ in names]
        frame = pd.DataFrame({name: pd.array(list(col), dtype=TEXT) for name, col in zip(names, columns)})
        frame.index = pd.RangeIndex(start, start + len(rows))
        return frame

    def estimate_rows(self) -> int | None:
        try:
            workbook = self._open()
        except ConfigError:
            return None
        try:
            rows = self._sheet(workbook).max_row
        except ConfigError:
            return None
        finally:
            workbook.close()
        if rows is None:
            return None
        return max(rows - (0 if self.config.header_row is None else self.config.header_row + 1), 0)


def _trim(row: tuple[Any, ...]) -> tuple[Any, ...]:
    end = len(row)
    while end and (row[end - 1] is None or row[end - 1] == ""):
        end -= 1
    return row[:end]


def _cell_text(value: Any) -> str | None:
    """A cell as the text an analyst sees: 42 not 42.0, ISO dates, true/false."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        # Excel has no date-only cells: a midnight time is a date typed without a time.
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    return str(value)
