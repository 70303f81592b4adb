"""LIKE is case-sensitive (ILIKE is not), with % and _ wildcards and no regex surprises."""

from __future__ import annotations

import pandas as pd
import pytest

from etl_studio.core.expressions import compile_expression

NAMES = pd.DataFrame({"name": pd.Series(["Anna", "anna", "a.b", "a+b", "100%", None], dtype="string")})


def matches(text: str) -> list[object]:
    return compile_expression(text, NAMES.columns).evaluate(NAMES).values.tolist()


def test_like_is_case_sensitive() -> None:
    assert matches("name LIKE 'a%'") == [False, True, True, True, False, pd.NA]


def test_ilike_ignores_case() -> None:
    assert matches("name ILIKE 'a%'") == [True, True, True, True, False, pd.NA]


def test_not_like() -> None:
    assert matches("name NOT LIKE 'a%'") == [True, False, False, False, True, pd.NA]


def test_underscore_is_one_character() -> None:
    assert matches("name LIKE 'a_b'") == [False, False, True, True, False, pd.NA]


@pytest.mark.parametrize("pattern", ["a.b", "a+b"])
def test_regex_metacharacters_are_literal(pattern: str) -> None:
    result = matches(f"name LIKE '{pattern}'")
    assert [v is True for v in result].count(True) == 1


def test_backslash_escapes_a_wildcard() -> None:
    assert matches("name LIKE '%\\%'") == [False, False, False, False, True, pd.NA]


def test_pattern_from_a_parameter() -> None:
    compiled = compile_expression("name LIKE :p", NAMES.columns, params=["p"])
    assert compiled.evaluate(NAMES, {"p": "An%"}).values.tolist()[:2] == [True, False]
