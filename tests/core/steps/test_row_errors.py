"""The row-error column convention: merging reasons, the first one wins."""

from __future__ import annotations

import pandas as pd

from etl_studio.core.steps.row_errors import ROW_ERROR_COLUMN, error_free, merge_row_errors


def test_no_errors_leaves_the_chunk_as_it_is():
    chunk = pd.DataFrame({"a": [1, 2]})
    assert merge_row_errors(chunk, None) is chunk
    assert merge_row_errors(chunk, pd.Series([None, None], dtype=object)) is chunk
    assert error_free(chunk).all()


def test_errors_are_added_and_the_first_reason_is_kept():
    chunk = pd.DataFrame({"a": [1, 2, 3]}, index=[10, 11, 12])
    once = merge_row_errors(chunk, pd.Series([None, "first", None], index=chunk.index, dtype=object))
    assert ROW_ERROR_COLUMN not in chunk.columns
    assert once[ROW_ERROR_COLUMN].tolist() == [None, "first", None]
    twice = merge_row_errors(once, pd.Series(["second", "later", None], index=chunk.index, dtype=object))
    assert twice[ROW_ERROR_COLUMN].tolist() == ["second", "first", None]
    assert error_free(twice).tolist() == [False, False, True]


def test_empty_frame():
    chunk = pd.DataFrame({"a": pd.Series([], dtype="Int64")})
    assert len(merge_row_errors(chunk, pd.Series([], dtype=object))) == 0
