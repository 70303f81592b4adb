"""The one error type of the expression language: a message, the span of text it is about, a suggestion."""

from __future__ import annotations

from etl_studio.core.errors import InvalidInputError


class ExpressionError(InvalidInputError):
    """A problem in an expression, at characters ``start``..``end`` (0-based, end exclusive) of its text."""

    def __init__(self, message: str, start: int = 0, end: int = 0, suggestion: str | None = None) -> None:
        self.message = message
        self.start = start
        self.end = end
        self.suggestion = suggestion
        super().__init__(str(self))

    def __str__(self) -> str:
        hint = f" (did you mean '{self.suggestion}'?)" if self.suggestion else ""
        return f"{self.message} at {self.start}-{self.end}{hint}"

    def __repr__(self) -> str:
        return f"ExpressionError({str(self)!r})"


class SqlRenderError(ExpressionError):
    """The expression is valid but cannot be run inside the given database (run it in pandas instead)."""
