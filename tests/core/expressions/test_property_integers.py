"""Random well-formed integer expressions evaluate as exact Python integers with PostgreSQL semantics."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from etl_studio.core.expressions import compile_expression

INT64_MAX = 2**63 - 1
COLUMNS = ("a", "b", "c")


class RowError(Exception):
    pass


@dataclass(frozen=True)
class Expr:
    text: str
    # value for one row: an int, None (NULL), or raises RowError
    compute: object


def _check(value: int) -> int:
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise RowError("integer out of range")
    return value


def _trunc_div(x: int, y: int) -> int:
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y >= 0) else -q


def _apply(op: str, x: int | None, y: int | None) -> int | None:
    if x is None or y is None:
        return None
    if op in "/%" and y == 0:
        raise RowError("division by zero")
    if op == "+":
        return _check(x + y)
    if op == "-":
        return _check(x - y)
    if op == "*":
        return _check(x * y)
    if op == "/":
        return _check(_trunc_div(x, y))
    return _check(x - _trunc_div(x, y) * y)


def leaves() -> st.SearchStrategy[Expr]:
    columns = st.sampled_from(COLUMNS).map(lambda name: Expr(name, lambda row, name=name: row[name]))
    numbers = st.integers(min_value=0, max_value=1000).map(lambda n: Expr(str(n), lambda row, n=n: n))
    return columns | numbers


def extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    def binary(op: str, left: Expr, right: Expr) -> Expr:
        return Expr(f"({left.text} {op} {right.text})", lambda row: _apply(op, left.compute(row), right.compute(row)))  # type: ignore[operator]

    def negate(inner: Expr) -> Expr:
        return Expr(f"-({inner.text})", lambda row: None if (v := inner.compute(row)) is None else _check(-v))  # type: ignore[operator]

    return st.builds(binary, st.sampled_from(["+", "-", "*", "/", "%"]), children, children) | children.map(negate)


arithmetic = st.recursive(leaves(), extend, max_leaves=12)

_COMPARE = {"=": lambda x, y: x == y, "<>": lambda x, y: x != y, "<": lambda x, y: x < y,
            "<=": lambda x, y: x <= y, ">": lambda x, y: x > y, ">=": lambda x, y: x >= y}


@st.composite
def expressions(draw: st.DrawFn) -> Expr:
    left = draw(arithmetic)
    if not draw(st.booleans()):
        return left
    op = draw(st.sampled_from(list(_COMPARE)))
    right = draw(arithmetic)

    def compute(row: dict[str, int | None]) -> bool | None:
        x, y = left.compute(row), right.compute(row)  # type: ignore[operator]
        return None if x is None or y is None else _COMPARE[op](x, y)

    return Expr(f"{left.text} {op} {right.text}", compute)


cell = st.one_of(st.none(), st.integers(min_value=-(10**6), max_value=10**6), st.integers(min_value=-(2**40), max_value=2**40))
rows = st.lists(st.fixed_dictionaries({name: cell for name in COLUMNS}), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(expr=expressions(), data=rows)
def test_random_integer_expressions_match_python_integers(expr: Expr, data: list[dict[str, int | None]]) -> None:
    df = pd.DataFrame({name: pd.Series([r[name] for r in data], dtype="Int64") for name in COLUMNS})
    result = compile_expression(expr.text, COLUMNS).evaluate(df)
    for position, row in enumerate(data):
        got = result.values.iloc[position]
        error = None if result.errors is None else result.errors.iloc[position]
        try:
            expected = expr.compute(row)  # type: ignore[operator]
        except RowError:
            assert error is not None, (expr.text, row)
            assert got is pd.NA
            continue
        assert error is None, (expr.text, row, error)
        if expected is None:
            assert got is pd.NA, (expr.text, row, got)
        else:
            assert got == expected, (expr.text, row, got, expected)
