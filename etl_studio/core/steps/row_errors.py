"""The reserved column through which steps hand per-row errors to the runner's quarantine."""

from __future__ import annotations

import pandas as pd

# A step that cannot compute a value for some rows keeps those rows and writes the reason
# here (None where the row is fine). The runner moves every row whose value is not None to
# quarantine with that reason and drops the column before mapping; it is never loaded.
ROW_ERROR_COLUMN = "__row_error__"


def merge_row_errors(chunk: pd.DataFrame, errors: pd.Series | None) -> pd.DataFrame:
    """Return ``chunk`` with ``errors`` (aligned to its index) recorded in ROW_ERROR_COLUMN.

    A row keeps the first reason it got: a later step's error is usually a consequence of
    the earlier one (a NULL left behind), so the first one is the one worth reading.
    """
    if errors is None:
        return chunk
    errors = errors.reindex(chunk.index)
    present = errors.notna().to_numpy()
    if not present.any():
        return chunk
    out = chunk.copy()
    new = pd.Series(errors.to_numpy(dtype=object), index=chunk.index, dtype=object)
    new[~present] = None
    if ROW_ERROR_COLUMN in out.columns:
        old = out[ROW_ERROR_COLUMN].astype(object)
        keep_old = old.notna().to_numpy()
        new = new.where(~keep_old, old)
    out[ROW_ERROR_COLUMN] = new
    return out


def error_free(chunk: pd.DataFrame) -> pd.Series:
    """True for rows that carry no error yet (a step may skip work on the others)."""
    if ROW_ERROR_COLUMN not in chunk.columns:
        return pd.Series(True, index=chunk.index)
    return chunk[ROW_ERROR_COLUMN].isna()
