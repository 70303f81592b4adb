"""COALESCE and CASE over CSV text beside numeric literals: the text is read as numbers first."""

from decimal import Decimal

import pandas as pd

from etl_studio.core.expressions import compile_expression


def test_coalesce_of_a_text_decimal_column_and_an_integer_literal_is_exact() -> None:
    df = pd.DataFrame({"discount": pd.array(["0.05", None, "0"], dtype="string")})
    result = compile_expression("coalesce(discount, 0)", df.columns).evaluate(df)
    assert list(result.values) == [Decimal("0.05"), Decimal("0"), Decimal("0")]
    assert result.errors is None


def test_case_mixing_text_numbers_and_integers_gives_decimals() -> None:
    df = pd.DataFrame({"q": pd.array(["17", "2"], dtype="string"), "d": pd.array(["0.05", "0.10"], dtype="string")})
    result = compile_expression("CASE WHEN q > 2 THEN d ELSE 1 END", df.columns).evaluate(df)
    assert list(result.values) == [Decimal("0.05"), Decimal("1")]
