"""Text to a sqlglot tree (PostgreSQL syntax), with syntax errors turned into one-line messages with a span."""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError

from etl_studio.core.expressions.errors import ExpressionError

READ_DIALECT = "postgres"
_TOO_MANY = re.compile(r"number of provided arguments \((\d+)\) is greater than the maximum number of supported arguments \((\d+)\)")
_MISSING = re.compile(r"Required keyword: '(\w+)' missing for <class '[\w.]*\.(\w+)'>")
_CALL_BEFORE = re.compile(r"(\w+)\s*\([^()]*$")


def parse(text: str) -> exp.Expression:
    """The expression tree; ExpressionError (first problem only) for text that is not one SQL expression."""
    if not text.strip():
        raise ExpressionError("the expression is empty", 0, len(text))
    try:
        trees = sqlglot.parse(text, read=READ_DIALECT, error_level=ErrorLevel.IMMEDIATE)
    except ParseError as exc:
        raise _translate(exc, text) from None
    except TokenError as exc:
        raise ExpressionError(f"cannot read the text: {exc}", 0, len(text)) from None
    trees = [t for t in trees if t is not None]
    if len(trees) != 1:
        raise ExpressionError("write one expression (no ';')", 0, len(text))
    return trees[0]


def _translate(exc: ParseError, text: str) -> ExpressionError:
    if not exc.errors:
        return ExpressionError(f"syntax error: {exc}", 0, len(text))
    error = exc.errors[0]
    start, end = _offsets(text, error.get("line"), error.get("col"), error.get("highlight") or "")
    description = str(error.get("description") or "")
    before = str(error.get("start_context") or "")
    if match := _TOO_MANY.search(description):
        call = _CALL_BEFORE.search(before)
        name = call.group(1).lower() if call else "function"
        return ExpressionError(f"too many arguments to {name}(): at most {match.group(2)}", start, end)
    if match := _MISSING.search(description):
        name = match.group(2).lower()
        call = _CALL_BEFORE.search(before)
        if call and not issubclass(getattr(exp, match.group(2), exp.Expression), exp.Binary):
            return ExpressionError(f"too few arguments to {call.group(1).lower()}()", start, end)
        return ExpressionError(f"incomplete expression: something is missing near '{error.get('highlight')}'", start, end)
    highlight = error.get("highlight") or ""
    return ExpressionError(f"syntax error near '{highlight}': {description.rstrip('.')}", start, end)


def _offsets(text: str, line: object, col: object, highlight: str) -> tuple[int, int]:
    if not isinstance(line, int) or not isinstance(col, int):
        return 0, len(text)
    lines = text.split("\n")
    base = sum(len(part) + 1 for part in lines[: max(line - 1, 0)])
    end = min(base + col, len(text))
    return max(end - len(highlight), 0), end


def span(node: exp.Expression, text: str) -> tuple[int, int]:
    """Where a node is in the text, from the token positions sqlglot keeps (best effort)."""
    found = _span(node, text)
    return found if found else (0, len(text))


def _span(node: exp.Expression, text: str) -> tuple[int, int] | None:
    bounds: list[tuple[int, int]] = []
    meta = node.meta if node._meta else {}  # noqa: SLF001 - reading meta must not create it
    if "start" in meta and "end" in meta:
        start, end = meta["start"], meta["end"] + 1
        # a quoted identifier or string literal: include its quotes
        if start > 0 and end < len(text) and text[start - 1] in "\"'" and text[end] == text[start - 1]:
            start, end = start - 1, end + 1
        if isinstance(node, exp.Func):
            end = _closing_paren(text, end)
        bounds.append((start, end))
    for child in node.iter_expressions():
        inner = _span(child, text)
        if inner:
            bounds.append(inner)
    if not bounds:
        return None
    return min(b[0] for b in bounds), max(b[1] for b in bounds)


def _closing_paren(text: str, position: int) -> int:
    depth = 0
    i = position
    while i < len(text):
        char = text[i]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth <= 0:
                return i + 1
        elif char == "'":
            i = text.find("'", i + 1)
            if i < 0:
                return len(text)
        i += 1
    return position
