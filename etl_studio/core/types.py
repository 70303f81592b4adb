"""The target column types an analyst can choose, parsed from their text form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

TypeName = Literal["string", "integer", "decimal", "float", "boolean", "date", "datetime"]
TYPE_NAMES: tuple[str, ...] = ("string", "integer", "decimal", "float", "boolean", "date", "datetime")
_DECIMAL = re.compile(r"^decimal\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$")
MAX_DECIMAL_PRECISION = 38


@dataclass(frozen=True)
class DataType:
    name: TypeName
    precision: int | None = None
    scale: int | None = None

    def __str__(self) -> str:
        if self.name == "decimal":
            return f"decimal({self.precision},{self.scale})"
        return self.name


def parse_type(text: str) -> DataType:
    """``'decimal(10,2)'`` -> DataType('decimal', 10, 2); a clear ValueError otherwise."""
    cleaned = text.strip().lower()
    if cleaned in TYPE_NAMES and cleaned != "decimal":
        return DataType(cleaned)  # type: ignore[arg-type]
    if cleaned == "decimal":
        return DataType("decimal", 18, 2)
    match = _DECIMAL.match(cleaned)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        if not 1 <= precision <= MAX_DECIMAL_PRECISION:
            raise ValueError(f"decimal precision must be 1..{MAX_DECIMAL_PRECISION}, not {precision}")
        if scale > precision:
            raise ValueError(f"decimal scale {scale} is larger than its precision {precision}")
        return DataType("decimal", precision, scale)
    raise ValueError(
        f"unknown type '{text}' (use one of: string, integer, decimal(p,s), float, boolean, date, datetime)"
    )
