"""Shared pieces of the quality rules: reasons that quote the value, and SQL predicate building."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from etl_studio.core.lazy import sqlglot_expressions as sx

from etl_studio.core.steps._columns import is_text

# Long values are cut in reasons so a quarantine table stays readable.
MAX_SHOWN = 40


def shown(values: pd.Series) -> pd.Series:
    """Each value as a reason quotes it: text in quotes ('bob@'), numbers and dates bare (-5).

    pandas renders the values as text (its number and date forms); the cutting and quoting is
    done value by value: reasons are made for the failing rows only, and a handful of pandas
    string operations cost more than a loop over a few thousand values.
    """
    quote = "'" if is_text(values) else ""
    out = [
        v if v is pd.NA else quote + (v if len(v) <= MAX_SHOWN else v[: MAX_SHOWN - 1] + "…") + quote
        for v in values.astype("string").tolist()
    ]
    return pd.Series(out, index=values.index, dtype="string")


def reasons_where(
    index: pd.Index, failing: np.ndarray | pd.Series, messages: pd.Series | str | Callable[[np.ndarray], pd.Series]
) -> pd.Series:
    """A check() result: None for passing rows, the message for failing ones.

    ``messages`` may be a function of the failing mask giving the messages of those rows only
    (in order), so that reasons are built for the few rows that fail, not for every row.
    """
    failing = np.asarray(failing, dtype=bool)
    out = np.full(len(index), None, dtype=object)
    if failing.any():
        if isinstance(messages, str):
            out[failing] = messages
        elif callable(messages):
            out[failing] = np.asarray(messages(failing).to_numpy(dtype=object))
        else:
            out[failing] = messages.to_numpy(dtype=object)[failing]
    return pd.Series(out, index=index, dtype=object)


def passing(index: pd.Index) -> pd.Series:
    # From an object array of None: Series(None, dtype=object) would hold NaN, not None.
    return pd.Series(np.full(len(index), None, dtype=object), index=index, dtype=object)


def column(name: str) -> sx.Column:
    return sx.column(name, quoted=True)


def null_or(name: str, predicate: sx.Expression, dialect: str) -> str:
    """``col IS NULL OR (predicate)``: NULL passes every rule but not_null (DESIGN §7)."""
    test = sx.or_(sx.Is(this=column(name), expression=sx.Null()), sx.paren(predicate, copy=False))
    return test.sql(dialect=dialect)
