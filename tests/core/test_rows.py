"""select_rows: the same rows, values, dtypes and index labels as pandas' boolean selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from etl_studio.core.rows import select_rows

TEXT = pd.StringDtype("pyarrow")


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "text": pd.Series(["a", None, "", "d", "e"], dtype=TEXT),
            "int": pd.Series([1, None, 3, 4, 5], dtype="Int64"),
            "date": pd.Series(pd.arrays.ArrowExtensionArray(pa.array([0, 1, None, 3, 4], pa.int32()).cast(pa.date32()))),
            "dec": pd.Series(pd.arrays.ArrowExtensionArray(pa.array(["1.50", None, "2.25", "3", "4"]).cast(pa.decimal128(5, 2)))),
            "float": [0.5, np.nan, 1.5, 2.5, 3.5],
            "obj": ["x", 1, None, 2.5, "y"],
        },
        index=pd.RangeIndex(10, 15),
    )


@pytest.mark.parametrize("mask", [[True, False, True, False, True], [False] * 5, [False, True, True, True, True]])
def test_selects_what_pandas_selects(mask: list[bool]) -> None:
    frame = _frame()
    expected = frame[np.array(mask)]
    got = select_rows(frame, mask)
    pd.testing.assert_frame_equal(got, expected)
    assert list(got.index) == [10 + i for i, keep in enumerate(mask) if keep]


def test_keeping_every_row_returns_the_frame_itself() -> None:
    frame = _frame()
    assert select_rows(frame, np.ones(5, dtype=bool)) is frame


def test_repeated_column_names_and_a_wrong_length() -> None:
    frame = pd.DataFrame([[1, 2], [3, 4]], columns=["a", "a"])
    pd.testing.assert_frame_equal(select_rows(frame, [False, True]), frame[np.array([False, True])])
    with pytest.raises(ValueError, match="mask of 3 for 2 rows"):
        select_rows(frame, [True, False, True])
