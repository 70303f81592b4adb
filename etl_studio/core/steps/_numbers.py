"""Exact numbers from text or numeric columns: vectorised, never rounded through float64."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from etl_studio.core.steps._columns import is_text

# Plain decimal notation with an optional exponent, as CSV exports and SQL literals write it.
_NUMBER = r"(?P<sign>[+-]?)(?P<int>\d*)(?:\.(?P<frac>\d*))?(?:[eE](?P<exp>[+-]?\d+))?"


def to_decimal(value: object) -> Decimal:
    """One value as an exact Decimal (floats by their shortest repr, i.e. as typed)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value).strip())


@dataclass
class NumericView:
    """A column seen as numbers: float64 for fast ordering, the originals for exact ties."""

    floats: np.ndarray  # NaN where NULL or not a number
    valid: np.ndarray  # bool: not NULL and a number
    bad: np.ndarray  # bool: not NULL and not a number (text such as 'abc')
    originals: np.ndarray  # object: the value to convert exactly when float cannot decide

    def compare(self, bound: Decimal) -> np.ndarray:
        """-1/0/+1 per valid row for value vs ``bound``, exact; 0 for invalid rows.

        float64 rounding is monotonic, so a strict float order is the exact order; only
        rows whose float equals the bound's float need the (rare) exact Decimal comparison.
        """
        fb = float(bound)
        with np.errstate(invalid="ignore"):
            sign = np.where(self.valid, np.sign(self.floats - fb), 0.0)
        sign = np.nan_to_num(sign, nan=0.0)
        for i in np.flatnonzero(self.valid & (self.floats == fb)):
            exact = to_decimal(self.originals[i])
            sign[i] = (exact > bound) - (exact < bound)
        return sign.astype(np.int8)


def numeric_view(series: pd.Series) -> NumericView:
    nulls = series.isna().to_numpy()
    if is_text(series):
        text = series.astype("string").str.strip()
        is_number = text.str.fullmatch(_NUMBER) & text.str.contains(r"\d", regex=True)
        valid = is_number.fillna(False).to_numpy(dtype=bool)
        floats = np.full(len(series), np.nan)
        if valid.any():
            floats[valid] = pd.to_numeric(text[valid].astype(object), errors="coerce").to_numpy(dtype=float)
        return NumericView(floats, valid, ~nulls & ~valid, text.to_numpy(dtype=object))
    if pd.api.types.is_bool_dtype(series.dtype):
        series = series.astype("Int64")
    try:
        floats = series.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        floats = pd.to_numeric(series.astype(object), errors="coerce").to_numpy(dtype=float)
    valid = ~nulls & ~np.isnan(floats)
    return NumericView(floats, valid, ~nulls & ~valid, series.to_numpy(dtype=object))
