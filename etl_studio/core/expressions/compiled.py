"""The public face of the expression language: compile or check a text, evaluate it over a DataFrame."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from etl_studio.core.expressions.compiler import Compiler, Evaluator, _resolve
from etl_studio.core.expressions.errors import ExpressionError
from etl_studio.core.expressions.parser import parse
from etl_studio.core.expressions.values import Frame, RunState


@dataclass(frozen=True)
class EvalResult:
    values: pd.Series  # aligned to the input frame's index
    errors: pd.Series | None  # None when no row failed; else None or a short reason per row


class CompiledExpression:
    """A checked expression, ready to run over any DataFrame holding its columns."""

    def __init__(self, text: str, tree: Any, evaluator: Evaluator, columns: Iterable[str], params: Iterable[str]) -> None:
        self.text = text
        self.referenced_columns: frozenset[str] = frozenset(columns)
        self.referenced_params: frozenset[str] = frozenset(params)
        self._tree = tree
        self._evaluate = evaluator

    def __repr__(self) -> str:
        return f"CompiledExpression({self.text!r})"

    def evaluate(self, df: pd.DataFrame, params: Mapping[str, Any] | None = None) -> EvalResult:
        params = dict(params or {})
        missing = sorted(p for p in self.referenced_params if p not in params)
        if missing:
            raise ExpressionError(f"no value given for parameter ':{missing[0]}'", 0, len(self.text))
        work = self._frame_with_columns(df)
        n = len(work)
        run = RunState(work, params, np.full(n, None, dtype=object), dt.datetime.now().replace(microsecond=0))
        result = self._evaluate(Frame(pd.RangeIndex(n), run))
        if result.kind == "interval":
            raise ExpressionError("an interval cannot be a result; add it to a date or timestamp", 0, len(self.text))
        values = result.series
        if len(values) != n:  # a constant expression evaluated over no columns still fills every row
            values = values.reindex(pd.RangeIndex(n))
        values = values.set_axis(df.index)
        errors = pd.Series(run.errors, index=df.index, dtype=object) if run.failed else None
        return EvalResult(values, errors)

    def _frame_with_columns(self, df: pd.DataFrame) -> pd.DataFrame:
        names = list(df.columns)
        picked: dict[str, pd.Series] = {}
        for name in self.referenced_columns:
            actual = name if name in names else _resolve(name, [str(c) for c in names])
            if actual is None:
                raise ExpressionError(f"unknown column '{name}' in the data", 0, len(self.text))
            picked[name] = df[actual].reset_index(drop=True)
        return pd.DataFrame(picked, index=pd.RangeIndex(len(df)))

    def to_sql(self, dialect: str, *, column_types: Mapping[str, Any] | None = None) -> str:
        """The same expression for a database to compute ("postgres", "mysql" or "sqlite")."""
        from etl_studio.core.expressions.sql import render

        return render(self._tree, self.text, dialect, column_types or {}, self.referenced_columns)


def _compile(text: str, columns: Iterable[str], params: Iterable[str]) -> tuple[Compiler, CompiledExpression | None]:
    compiler = Compiler(text, list(columns), list(params))
    try:
        tree = parse(text)
    except ExpressionError as exc:
        compiler.problems.append(exc)
        return compiler, None
    evaluator = compiler.compile(tree)
    if compiler.problems:
        return compiler, None
    return compiler, CompiledExpression(text, tree, evaluator, compiler.referenced, compiler.referenced_params)


def compile_expression(text: str, columns: Iterable[str], *, params: Iterable[str] = ()) -> CompiledExpression:
    """Parse and check ``text`` against the known columns and parameters; ExpressionError for the first problem."""
    compiler, compiled = _compile(text, columns, params)
    if compiled is None:
        raise compiler.problems[0]
    return compiled


def check_expression(text: str, columns: Iterable[str], *, params: Iterable[str] = ()) -> list[ExpressionError]:
    """Every problem in ``text`` (an empty list when it is fine), for validation and the editor."""
    compiler, _ = _compile(text, columns, params)
    return sorted(compiler.problems, key=lambda e: (e.start, e.end))
