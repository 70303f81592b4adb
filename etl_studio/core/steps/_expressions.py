"""Compiling the analyst's SQL expressions for steps and rules, once per column set."""

from __future__ import annotations

from typing import Any

import pandas as pd

from etl_studio.core.context import RunContext
from etl_studio.core.errors import ConfigError
from etl_studio.core.steps._columns import visible


class CompiledFor:
    """One expression of a step or rule, compiled against the columns it is used with."""

    def __init__(self, text: str, where: str, context: RunContext) -> None:
        self.text = text
        self.where = where
        self.context = context
        self._compiled: Any = None
        self._columns: tuple[str, ...] | None = None

    def compile(self, columns: list[str] | pd.Index) -> Any:
        from etl_studio.core.expressions import ExpressionError, compile_expression

        names = tuple(visible(columns))
        if self._compiled is None or names != self._columns:
            try:
                self._compiled = compile_expression(self.text, names, params=tuple(self.context.params))
            except ExpressionError as exc:
                # ConfigError like every other step error; the span stays on exc (__cause__).
                message = getattr(exc, "message", str(exc))
                hint = f" (did you mean '{exc.suggestion}'?)" if getattr(exc, "suggestion", None) else ""
                if message.startswith("unknown column"):
                    message = f"{message} in {self.where}{hint} (columns: {', '.join(names) or 'none'})"
                else:
                    message = f"{self.where}: {message}{hint}"
                raise ConfigError(message) from exc
            self._columns = names
        return self._compiled

    def evaluate(self, chunk: pd.DataFrame) -> tuple[pd.Series, pd.Series | None]:
        """Values and per-row error reasons (None where fine), both aligned to ``chunk``."""
        compiled = self.compile(chunk.columns)
        result = compiled.evaluate(chunk, params=self.context.params)
        values = result.values
        if not values.index.equals(chunk.index):
            values = pd.Series(values.to_numpy(), index=chunk.index, dtype=values.dtype)
        errors = result.errors
        if errors is not None and not errors.index.equals(chunk.index):
            errors = pd.Series(errors.to_numpy(dtype=object), index=chunk.index, dtype=object)
        return values, errors

    def to_sql(self, dialect: str) -> str | None:
        from etl_studio.core.expressions import SqlRenderError

        if self._compiled is None:
            return None  # never compiled: the columns it refers to are not known yet
        try:
            return self._compiled.to_sql(dialect)
        except SqlRenderError:
            return None  # valid, but this database cannot do it: the step runs in pandas


def as_condition(values: pd.Series, where: str, text: str) -> pd.Series:
    """The expression's result as nullable booleans; a non-condition is a config error."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("boolean")
    if values.isna().all():
        return pd.Series(pd.NA, index=values.index, dtype="boolean")
    raise ConfigError(f"{where}: '{text}' gives {values.dtype} values, not true/false; write a condition such as amount > 0")
