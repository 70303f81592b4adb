"""COALESCE and CASE over CSV text beside numeric literals: the text is read as numbers first."""

import datetime as dt
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest

from etl_studio.core.expressions import compile_expression
from etl_studio.core.expressions.compiler import _placed


def test_coalesce_of_a_text_decimal_column_and_an_integer_literal_is_exact() -> None:
    df = pd.DataFrame({"discount": pd.array(["0.05", None, "0"], dtype="string")})
    result = compile_expression("coalesce(discount, 0)", df.columns).evaluate(df)
    assert list(result.values) == [Decimal("0.05"), Decimal("0"), Decimal("0")]
    assert result.errors is None


def test_case_mixing_text_numbers_and_integers_gives_decimals() -> None:
    df = pd.DataFrame({"q": pd.array(["17", "2"], dtype="string"), "d": pd.array(["0.05", "0.10"], dtype="string")})
    result = compile_expression("CASE WHEN q > 2 THEN d ELSE 1 END", df.columns).evaluate(df)
    assert list(result.values) == [Decimal("0.05"), Decimal("1")]


# -- branch results put together by position ------------------------------------------------------

KIND_SAMPLES = {
    "int": pd.Series([1, None, -7, 40], dtype="Int64"),
    "decimal": pd.Series(pd.arrays.ArrowExtensionArray(pa.array([Decimal("1.50"), None, Decimal("-2.25"), Decimal("0.00")], pa.decimal128(5, 2)))),
    "bool": pd.Series([True, None, False, True], dtype="boolean"),
    "text": pd.Series(["a", None, "", "é"], dtype=pd.StringDtype("pyarrow")),
    "date": pd.Series(pd.arrays.ArrowExtensionArray(pa.array([dt.date(2024, 1, 5), None, dt.date(1999, 12, 31), dt.date(2024, 2, 29)], pa.date32()))),
    "timestamp": pd.Series(pd.to_datetime(["2024-01-05 10:00:00.5", None, "1970-01-01 00:00:00", "2038-01-19 03:14:08"], format="ISO8601").astype("datetime64[us]")),
}


@pytest.mark.parametrize("kind", sorted(KIND_SAMPLES))
@pytest.mark.parametrize("frame_labels", [list(range(8)), [1, 4, 5, 9, 12, 13, 20, 31]], ids=["all rows", "a branch's rows"])
def test_combined_branches_equal_concatenating_and_reindexing(kind: str, frame_labels: list[int]) -> None:
    """combine() places pieces by position; the result must be what label alignment gives, NULLs and dtype included."""
    sample = KIND_SAMPLES[kind]
    index = pd.RangeIndex(len(frame_labels)) if frame_labels == list(range(len(frame_labels))) else pd.Index(frame_labels)
    # two disjoint pieces over some of the frame's rows, out of order; the rest of the rows get NULL
    first = sample.set_axis(pd.Index([frame_labels[6], frame_labels[0], frame_labels[3], frame_labels[1]]))
    second = sample.iloc[:2].set_axis(pd.Index([frame_labels[7], frame_labels[2]]))
    expected = pd.concat([first, second]).reindex(index)
    got = _placed([first, second], kind, index)
    assert got.dtype == expected.dtype
    assert got.index.equals(index)
    assert [None if pd.isna(v) else v for v in got.tolist()] == [None if pd.isna(v) else v for v in expected.tolist()]


def test_placing_by_position_declines_an_index_that_is_not_strictly_increasing() -> None:
    piece = KIND_SAMPLES["int"].iloc[:2].set_axis(pd.Index([3, 1]))
    assert _placed([piece], "int", pd.Index([1, 3, 3])) is None
    assert _placed([piece], "int", pd.Index([3, 1])) is None
