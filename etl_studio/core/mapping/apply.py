"""Applying a pipeline's mapping to a chunk: select or compute each target column, cast, collect row errors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from etl_studio.core.errors import InvalidInputError, Problem
from etl_studio.core.project.models import TargetColumn
from etl_studio.core.types import DataType, parse_type


class MappingError(InvalidInputError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def mapping_problems(mapping: list[TargetColumn], input_columns: Iterable[str], *, params: Iterable[str] = (), prefix: str = "mapping") -> list[Problem]:
    """Every unknown source column and bad expression, at ``mapping[i].source`` / ``.expr``."""
    from difflib import get_close_matches

    columns = list(input_columns)
    problems: list[Problem] = []
    for i, column in enumerate(mapping):
        if column.source is not None and column.source not in columns:
            hint = get_close_matches(column.source, columns, n=1)
            more = f" (did you mean '{hint[0]}'?)" if hint else f" (columns: {', '.join(columns[:12])})"
            problems.append(Problem(f"{prefix}[{i}].source", f"unknown column '{column.source}'{more}"))
        if column.expr is not None:
            from etl_studio.core.expressions import check_expression  # sqlglot: only for mappings with expressions

            for error in check_expression(column.expr, columns, params=params):
                problems.append(Problem(f"{prefix}[{i}].expr", str(error)))
        if not column.is_mapped and not column.nullable:
            problems.append(Problem(f"{prefix}[{i}]", f"required column '{column.name}' is not mapped"))
    return problems


@dataclass
class CompiledMapping:
    columns: list[TargetColumn]
    types: dict[str, DataType]
    expressions: dict[str, Any]  # target column -> CompiledExpression

    @property
    def passthrough(self) -> bool:
        return not self.columns


def compile_mapping(mapping: list[TargetColumn], input_columns: Iterable[str], *, params: Iterable[str] = ()) -> CompiledMapping:
    columns = list(input_columns)
    problems = mapping_problems(mapping, columns, params=params)
    if problems:
        raise MappingError(problems)
    expressions: dict[str, Any] = {}
    if any(c.expr is not None for c in mapping):
        from etl_studio.core.expressions import compile_expression

        expressions = {c.name: compile_expression(c.expr, columns, params=params) for c in mapping if c.expr is not None}
    return CompiledMapping(list(mapping), {c.name: parse_type(c.type) for c in mapping}, expressions)


def _first_reason(existing: pd.Series | None, new: pd.Series) -> pd.Series:
    if existing is None:
        return new
    return existing.where(existing.notna(), new)


def apply_mapping(plan: CompiledMapping, chunk: pd.DataFrame, params: Mapping[str, Any] | None = None) -> tuple[pd.DataFrame, pd.Series | None]:
    """The target-shaped chunk (same index) and, per row, the first reason it cannot load (or None).

    A value that cannot be cast is never turned silently into NULL: its row gets a reason
    and the runner quarantines it.
    """
    from etl_studio.core.casting import cast_series

    if plan.passthrough:
        return chunk, None
    out: dict[str, pd.Series] = {}
    errors: pd.Series | None = None
    for column in plan.columns:
        if column.source is not None:
            values = chunk[column.source]
        elif column.expr is not None:
            result = plan.expressions[column.name].evaluate(chunk, params)
            values = result.values
            if result.errors is not None:
                errors = _first_reason(errors, result.errors.map(lambda r, n=column.name: None if r is None or pd.isna(r) else f"{n}: {r}"))
        else:
            values = pd.Series(pd.NA, index=chunk.index, dtype="object")
        cast = cast_series(values, plan.types[column.name], column=column.name)
        if cast.errors is not None:
            errors = _first_reason(errors, cast.errors.map(lambda r, n=column.name: None if r is None or pd.isna(r) else f"{n}: {r}"))
        if not column.nullable:
            missing = cast.values.isna()
            if cast.errors is not None:
                missing &= cast.errors.isna()
            if missing.any():
                reason = pd.Series(None, index=chunk.index, dtype="object")
                reason[missing] = f"{column.name}: a value is required (the column is not nullable)"
                errors = _first_reason(errors, reason)
        out[column.name] = cast.values
    frame = pd.DataFrame(out, index=chunk.index)
    if errors is not None and not errors.notna().any():
        errors = None
    return frame, errors
