"""Problems in an expression are one-line messages with the place in the text and a suggestion."""

from __future__ import annotations

import builtins

import pandas as pd
import pytest

from etl_studio.core.errors import InvalidInputError
from etl_studio.core.expressions import FUNCTION_NAMES, ExpressionError, check_expression, compile_expression

COLUMNS = ["email", "quantity", "unit_price", "Order Date"]


def test_unknown_column_names_its_place_and_suggests_the_right_one() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("lower(emial)", COLUMNS)
    err = caught.value
    assert isinstance(err, InvalidInputError)
    assert (err.start, err.end) == (6, 11)
    assert err.message == "unknown column 'emial'"
    assert str(err) == "unknown column 'emial' at 6-11 (did you mean 'email'?)"


def test_quoted_column_span_includes_the_quotes() -> None:
    err = check_expression('"Order Dat" + 1', COLUMNS)[0]
    assert (err.start, err.end) == (0, 11)
    assert err.suggestion == "Order Date"


def test_unknown_function_is_reported_with_a_suggestion() -> None:
    err = check_expression("lowr(email)", COLUMNS)[0]
    assert err.message == "unknown function 'lowr'"
    assert err.suggestion == "lower"
    assert (err.start, err.end) == (0, 11)


def test_check_reports_every_problem() -> None:
    problems = check_expression("lower(emial) || foo(quantiti) || round(1, 2, 3)", COLUMNS)
    messages = [p.message for p in problems]
    assert "unknown column 'emial'" in messages
    assert "unknown function 'foo'" in messages
    assert "unknown column 'quantiti'" in messages
    assert any("round()" in m for m in messages)
    assert check_expression("lower(email)", COLUMNS) == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("lower(email, 1)", "too many arguments to lower()"),
        ("nullif(email)", "too few arguments to nullif()"),
        ("substring(email)", "wrong number of arguments to substring()"),
        ("regexp_replace(email, 'a')", "wrong number of arguments to regexp_replace()"),
        ("round(1, 2, 3)", "wrong number of arguments to round()"),
    ],
)
def test_wrong_argument_counts(text: str, fragment: str) -> None:
    problems = check_expression(text, COLUMNS)
    assert problems and fragment in problems[0].message


@pytest.mark.parametrize("text", ["quantity +", "(quantity", "quantity quantity", "", "SELECT 1", "1; 2", "CASE WHEN"])
def test_syntax_errors_are_one_line_messages(text: str) -> None:
    problems = check_expression(text, COLUMNS)
    assert problems
    assert "\n" not in str(problems[0])
    assert 0 <= problems[0].start <= problems[0].end <= max(len(text), 1)


def test_unknown_parameter() -> None:
    err = check_expression(":run_dat > 1", COLUMNS, params=["run_date"])[0]
    assert err.message == "unknown parameter ':run_dat'"
    assert err.suggestion == ":run_date"


def test_missing_parameter_value_at_evaluation() -> None:
    compiled = compile_expression(":run_date", COLUMNS, params=["run_date"])
    with pytest.raises(ExpressionError, match="run_date"):
        compiled.evaluate(pd.DataFrame({"email": ["a"]}))


def test_like_pattern_must_be_constant() -> None:
    err = check_expression("email LIKE quantity", COLUMNS)[0]
    assert "must be a constant" in err.message


def test_unsupported_cast_type() -> None:
    err = check_expression("CAST(email AS json)", COLUMNS)[0]
    assert "unsupported type" in err.message


def test_type_errors_found_with_data_name_the_place() -> None:
    df = pd.DataFrame({"email": ["a"], "quantity": [1]})
    compiled = compile_expression("quantity + CAST('2024-01-01' AS timestamp) * 2", df.columns)
    with pytest.raises(ExpressionError) as caught:
        compiled.evaluate(df)
    assert caught.value.end > caught.value.start


def test_python_is_never_evaluated(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("eval/exec must never be reached")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    for text in ("__import__('os')", "__import__('os').system('echo hi')", "eval('1')", "exec('x=1')"):
        problems = check_expression(text, COLUMNS)
        assert problems, text
    err = check_expression("__import__('os')", COLUMNS)[0]
    assert err.message == "unknown function '__import__'"
    df = pd.DataFrame({"email": ["A"], "quantity": [1], "unit_price": ["2.5"], "Order Date": ["2024-01-01"]})
    compiled = compile_expression("CASE WHEN quantity > 0 THEN lower(email) || unit_price END", COLUMNS)
    assert compiled.evaluate(df).values.tolist() == ["a2.5"]


def test_referenced_columns_are_the_real_names() -> None:
    compiled = compile_expression('QUANTITY * unit_price + length("Order Date")', COLUMNS)
    assert compiled.referenced_columns == frozenset({"quantity", "unit_price", "Order Date"})
    assert compiled.text == 'QUANTITY * unit_price + length("Order Date")'


def test_function_names_for_completion() -> None:
    for name in ("lower", "coalesce", "regexp_replace", "current_date", "substr", "ceiling", "concat", "extract"):
        assert name in FUNCTION_NAMES
    assert list(FUNCTION_NAMES) == sorted(FUNCTION_NAMES)
