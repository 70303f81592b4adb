"""Parses the lines of PostgreSQL's built-in test_decoding output plugin into typed row changes."""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass, field
from typing import Any

# The marker test_decoding prints for a TOASTed value an UPDATE did not change: the value is
# not in the WAL record, so the target must keep what it has.
UNCHANGED_TOAST = "unchanged-toast-datum"
_INTEGER_TYPES = frozenset({"smallint", "integer", "bigint", "oid"})
_FLOAT_TYPES = frozenset({"real", "double precision"})


class DecodingError(ValueError):
    """A line that is not in the test_decoding format."""


@dataclass(frozen=True)
class RowChange:
    """One change of one row: ``values`` are Python values; ``old_key`` is set when an UPDATE changed the key."""

    schema: str
    table: str
    op: str  # "insert" | "update" | "delete" | "truncate"
    values: dict[str, Any] = field(default_factory=dict)
    old_key: dict[str, Any] | None = None
    unchanged: tuple[str, ...] = ()  # columns whose value the WAL does not hold (unchanged TOAST)
    tables: tuple[tuple[str, str], ...] = ()  # TRUNCATE: every (schema, table) it emptied


def parse_change(line: str) -> RowChange | None:
    """A change line as a RowChange; None for BEGIN/COMMIT lines, which carry no row."""
    if line.startswith("BEGIN") or line.startswith("COMMIT"):
        return None
    scanner = _Scanner(line)
    scanner.expect("table ")
    tables = [scanner.qualified_name()]
    while scanner.peek(", "):
        scanner.expect(", ")
        tables.append(scanner.qualified_name())
    scanner.expect(": ")
    op = scanner.word().rstrip(":").lower()
    schema, table = tables[0]
    if op == "truncate":
        return RowChange(schema, table, "truncate", tables=tuple(tables))
    if op not in ("insert", "update", "delete"):
        raise DecodingError(f"unknown change kind {op!r} in: {line[:200]}")
    scanner.skip_spaces()
    if scanner.peek("(no-tuple data)") or scanner.peek("(no-tuple-data)"):
        if op == "delete":
            return RowChange(schema, table, op)  # no key: the caller says why this cannot be applied
        raise DecodingError(f"{op} without row data in: {line[:200]}")
    old_key: dict[str, Any] | None = None
    if scanner.peek("old-key: "):
        scanner.expect("old-key: ")
        old_key, _ = scanner.tuple_until("new-tuple: ")
        scanner.expect("new-tuple: ")
    values, unchanged = scanner.tuple_until(None)
    return RowChange(schema, table, op, values, old_key, tuple(unchanged))


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> DecodingError:
        return DecodingError(f"expected {what} at character {self.pos} of: {self.text[:200]}")

    def peek(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def expect(self, token: str) -> None:
        if not self.peek(token):
            raise self.fail(repr(token))
        self.pos += len(token)

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def word(self) -> str:
        end = self.text.find(" ", self.pos)
        end = len(self.text) if end < 0 else end
        word, self.pos = self.text[self.pos : end], end
        return word

    def identifier(self) -> str:
        """A name as quote_identifier writes it: bare, or in double quotes with "" for a quote."""
        if self.peek('"'):
            self.pos += 1
            parts: list[str] = []
            while True:
                end = self.text.find('"', self.pos)
                if end < 0:
                    raise self.fail("a closing double quote")
                parts.append(self.text[self.pos : end])
                self.pos = end + 1
                if self.peek('"'):
                    parts.append('"')
                    self.pos += 1
                else:
                    return "".join(parts)
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] in "_$"):
            self.pos += 1
        if start == self.pos:
            raise self.fail("a name")
        return self.text[start : self.pos]

    def qualified_name(self) -> tuple[str, str]:
        schema = self.identifier()
        self.expect(".")
        return schema, self.identifier()

    def tuple_until(self, stop: str | None) -> tuple[dict[str, Any], list[str]]:
        values: dict[str, Any] = {}
        unchanged: list[str] = []
        while True:
            self.skip_spaces()
            if self.pos >= len(self.text) or (stop is not None and self.peek(stop)):
                return values, unchanged
            name = self.identifier()
            self.expect("[")
            end = self.text.find("]:", self.pos)
            if end < 0:
                raise self.fail("]: after a type name")
            type_name = self.text[self.pos : end]
            self.pos = end + 2
            raw = self.value()
            if raw is _UNCHANGED:
                unchanged.append(name)
                values[name] = None
            else:
                values[name] = convert(raw, type_name)

    def value(self) -> Any:
        if self.peek("'") or self.peek("B'"):
            bits = self.peek("B'")
            self.pos += 2 if bits else 1
            parts: list[str] = []
            while True:
                end = self.text.find("'", self.pos)
                if end < 0:
                    raise self.fail("a closing quote")
                parts.append(self.text[self.pos : end])
                self.pos = end + 1
                if self.peek("'"):
                    parts.append("'")
                    self.pos += 1
                else:
                    return _Quoted("".join(parts))
        token = self.word()
        if token == "null":
            return None
        if token == UNCHANGED_TOAST:
            return _UNCHANGED
        return token


class _Quoted(str):
    """A value test_decoding printed in quotes (text-like), as opposed to a bare number or boolean."""


_UNCHANGED = object()


def convert(raw: str | None, type_name: str) -> Any:
    """A value's text as PostgreSQL printed it, to the Python value the driver would have returned.

    Types without a natural Python value here (json, uuid, arrays, intervals ...) stay text,
    as PostgreSQL writes them, so nothing is lost.
    """
    if raw is None:
        return None
    base = type_name.split("(")[0].strip()
    try:
        if base in _INTEGER_TYPES:
            return int(raw)
        if base == "numeric":
            return decimal.Decimal(raw)
        if base in _FLOAT_TYPES:
            return float(raw)
        if base == "boolean":
            return raw == "true"
        if base == "date":
            return dt.date.fromisoformat(raw)
        if base == "timestamp without time zone":
            return dt.datetime.fromisoformat(raw)
        if base == "timestamp with time zone":
            return dt.datetime.fromisoformat(raw)
    except ValueError:
        return str(raw)  # infinity, BC dates, out-of-range values: kept as PostgreSQL wrote them
    return str(raw)
