"""The JSON source: records from a JSON document or an NDJSON file, nested objects flattened to a.b columns."""

from __future__ import annotations

import codecs
import decimal
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
from pydantic import Field, field_validator

from etl_studio.core.errors import ConfigError
from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import sources
from etl_studio.core.sources._frames import TEXT, values_to_series
from etl_studio.core.sources.base import Source
from etl_studio.core.types import MAX_DECIMAL_PRECISION

_NDJSON_SUFFIXES = (".ndjson", ".jsonl", ".ldjson")
VALUE_COLUMN = "value"  # the column of a record that is a bare value, not an object


class JsonFileConfig(PluginConfig):
    path: str = Field("", description="The JSON or NDJSON file, relative to the project file")
    format: Literal["auto", "json", "ndjson"] = Field(
        "auto", description='"json": one document; "ndjson": one object per line (JSON Lines); "auto": tell from the file'
    )
    records_path: str = Field(
        "", description='Dotted path to the list of records inside a JSON document, e.g. "data.items"; empty: the document itself'
    )
    encoding: str = Field("utf-8", description="Text encoding of the file")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value


@sources.register("json_file")
class JsonFileSource(Source):
    config_model = JsonFileConfig
    title = "JSON file"
    description = "Reads records from a JSON document or a JSON Lines (NDJSON) file"

    config: JsonFileConfig

    def file(self) -> Path:
        if not self.config.path:
            raise ConfigError("no JSON file chosen: set the source's path")
        resolved = self.context.resolve_path(self.config.path)
        if not resolved.is_file():
            raise ConfigError(f"JSON file not found: {resolved}")
        return resolved

    def file_format(self) -> str:
        """ "json" or "ndjson": as configured, or judged from the file's name and first line."""
        if self.config.format != "auto":
            return self.config.format
        path = self.file()
        if path.suffix.lower() in _NDJSON_SUFFIXES:
            return "ndjson"
        with self._text(path) as handle:
            first = handle.readline()
            while first and not first.strip():
                first = handle.readline()
            rest = handle.readline()
            while rest and not rest.strip():
                rest = handle.readline()
        if not first.lstrip().startswith("{") or not rest.strip():
            return "json"
        try:
            json.loads(first)
        except json.JSONDecodeError:
            return "json"  # an object spread over several lines: one pretty-printed document
        return "ndjson"

    def _text(self, path: Path) -> Any:
        encoding = "utf-8-sig" if codecs.lookup(self.config.encoding).name == "utf-8" else self.config.encoding
        return open(path, encoding=encoding)

    def read_chunks(self, chunk_size: int, limit: int | None = None) -> Iterator[pd.DataFrame]:
        self.context.check_cancelled()
        chunk_size = max(1, chunk_size)
        path = self.file()
        try:
            if self.file_format() == "ndjson":
                # Two passes so that every chunk has every column, even one that first appears late.
                names = _ordered_keys(self._ndjson_records(path, limit))
                records: Iterable[dict[str, Any]] = self._ndjson_records(path, limit)
            else:
                document_records = self._document_records(path)
                if limit is not None:
                    document_records = document_records[:limit]
                names = _ordered_keys(document_records)
                records = document_records
            yield from self._chunks(records, names, chunk_size)
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{path.name}: bytes that are not valid {self.config.encoding} text (at byte {exc.start}); set the file's encoding"
            ) from None

    def _chunks(self, records: Iterable[dict[str, Any]], names: list[str], chunk_size: int) -> Iterator[pd.DataFrame]:
        start = 0
        batch: list[dict[str, Any]] = []
        for record in records:
            batch.append(record)
            if len(batch) == chunk_size:
                yield self._frame(batch, names, start)
                start += len(batch)
                batch = []
        if batch or (start == 0 and names):
            yield self._frame(batch, names, start)

    def _frame(self, records: list[dict[str, Any]], names: list[str], start: int) -> pd.DataFrame:
        self.context.check_cancelled()
        frame = pd.DataFrame({name: _column([r.get(name) for r in records]) for name in names})
        frame.index = pd.RangeIndex(start, start + len(records))
        return frame

    def _ndjson_records(self, path: Path, limit: int | None) -> Iterator[dict[str, Any]]:
        count = 0
        with self._text(path) as handle:
            for number, line in enumerate(handle, start=1):
                if limit is not None and count >= limit:
                    return
                if not line.strip():
                    continue
                try:
                    value = json.loads(line, parse_float=decimal.Decimal)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{path.name}: line {number} is not valid JSON ({exc.msg}, column {exc.colno})") from None
                if not isinstance(value, dict):
                    raise ConfigError(f"{path.name}: line {number} holds a JSON {_kind(value)}, not an object (NDJSON needs one object per line)")
                count += 1
                yield _flatten(value)

    def _document_records(self, path: Path) -> list[dict[str, Any]]:
        with self._text(path) as handle:
            text = handle.read()
            if not text.strip():
                return []  # an empty export: no records, not an error
            try:
                document = json.loads(text, parse_float=decimal.Decimal)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path.name}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
        found = _follow(document, self.config.records_path, path.name)
        if isinstance(found, dict):
            if not self.config.records_path:
                candidates = _list_paths(found)
                if candidates:
                    raise ConfigError(
                        f"{path.name} holds an object, not a list of records: set records_path to one of {', '.join(candidates)}"
                    )
            return [_flatten(found)]
        if isinstance(found, list):
            return [_flatten(item) if isinstance(item, dict) else {VALUE_COLUMN: item} for item in found]
        return [{VALUE_COLUMN: found}]


def _follow(document: Any, records_path: str, file_name: str) -> Any:
    current = document
    walked: list[str] = []
    for part in [p for p in records_path.split(".") if p] if records_path else []:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            where = ".".join(walked) or "the top level"
            keys = f" (keys there: {', '.join(map(str, current))})" if isinstance(current, dict) else ""
            raise ConfigError(f"{file_name}: records_path '{records_path}': no '{part}' at {where}{keys}")
        walked.append(part)
    return current


def _list_paths(obj: dict[str, Any], prefix: str = "", depth: int = 3) -> list[str]:
    """Dotted paths to lists of objects inside a document, to suggest a records_path."""
    paths: list[str] = []
    for key, value in obj.items():
        path = f"{prefix}{key}"
        if isinstance(value, list) and value and isinstance(value[0], dict):
            paths.append(path)
        elif isinstance(value, dict) and depth > 1:
            paths.extend(_list_paths(value, path + ".", depth - 1))
    return paths


def _flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _ordered_keys(records: Iterable[dict[str, Any]]) -> list[str]:
    keys: dict[str, None] = {}
    for record in records:
        for key in record:
            keys.setdefault(key, None)
    return list(keys)


def _kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def _column(values: list[Any]) -> pd.Series:
    """One column of a chunk, typed by its values: whole numbers Int64, exact decimals, text ...

    Arrays and objects become their JSON text; a column mixing kinds (numbers and text)
    becomes text rather than losing either.
    """
    present = [v for v in values if v is not None]
    if not present:
        return pd.Series(pd.array([pd.NA] * len(values), dtype=TEXT))
    if any(isinstance(v, (list, dict)) for v in present):
        return pd.Series(pd.array([None if v is None else _json_text(v) for v in values], dtype=TEXT))
    if all(isinstance(v, bool) for v in present):
        return values_to_series(values, pa.bool_())
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        if all(-(2**63) <= v < 2**63 for v in present):
            return values_to_series(values, pa.int64())
    if all(isinstance(v, (int, decimal.Decimal)) and not isinstance(v, bool) for v in present):
        decimal_type = _decimal_type(present)
        if decimal_type is not None:
            return values_to_series([None if v is None else decimal.Decimal(v) for v in values], decimal_type)
        return values_to_series([None if v is None else float(v) for v in values], pa.float64())
    if all(isinstance(v, str) for v in present):
        return pd.Series(pd.array(values, dtype=TEXT))
    return pd.Series(pd.array([None if v is None else _json_text(v) for v in values], dtype=TEXT))


def _decimal_type(values: list[int | decimal.Decimal]) -> pa.DataType | None:
    """decimal128(p, s) that holds every value exactly, or None when none does (1e400 ...)."""
    whole, scale = 1, 0
    for value in values:
        sign, digits, exponent = decimal.Decimal(value).as_tuple()
        if not isinstance(exponent, int):
            return None  # NaN or Infinity
        scale = max(scale, -exponent)
        whole = max(whole, len(digits) + exponent)
    if whole + scale > MAX_DECIMAL_PRECISION:
        return None
    return pa.decimal128(max(whole + scale, 1), scale)


def _json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    return json.dumps(value, default=_plain_number, ensure_ascii=False)


def _plain_number(value: Any) -> Any:
    # json can't write a Decimal; inside a nested array or object a float is close enough.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)
