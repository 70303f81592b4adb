"""Quarantined rows are stored as the same JSON whichever way it is built, with every kind of value."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest

from etl_studio.core.history.store import InMemoryRunStore, SqlRunStore, _values_row_by_row, quarantine_frame

TEXTS = ["plain", 'with "quotes"', "back\\slash", "new\nline", "tab\t", "\x00nul", "\x1f", "jürgen@beispiel.de", "用户",
         "\u2028sep", "emoji \U0001F600", "", " ", None, "N/A", "'single'", "/slash", "\x7f"]


def quarantined(data: dict, index: list[int] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(data)
    if index is not None:
        frame = frame.set_axis(index)
    frame["__rule__"] = ["rule"] * len(frame)
    frame["__reason__"] = [f"reason {i}" for i in range(len(frame))]
    return frame


@pytest.mark.parametrize("dtype", [pd.StringDtype("pyarrow"), pd.StringDtype("python"), object, pd.ArrowDtype(pa.string())])
def test_text_of_every_kind_is_stored_as_json_dumps_writes_it(dtype) -> None:
    frame = quarantined({"t": pd.Series(TEXTS, dtype=dtype)}, index=list(range(10, 10 + len(TEXTS))))
    stored = quarantine_frame(frame)
    assert stored["values"].tolist() == _values_row_by_row(frame, ["t"])
    assert [json.loads(v)["t"] for v in stored["values"]] == [None if t is None else t for t in TEXTS]
    assert stored["row"].tolist() == list(range(10, 10 + len(TEXTS)))
    assert stored["reason"].tolist()[:2] == ["reason 0", "reason 1"]


def test_numbers_dates_and_decimals_are_stored_as_their_text() -> None:
    frame = quarantined({
        "i": pd.array([1, None, -3], dtype="Int64"),
        "f": pd.array([1.5, None, 2.0], dtype="Float64"),
        "d": pd.Series(pd.arrays.ArrowExtensionArray(pa.array([Decimal("1.50"), None, Decimal("-0.05")], pa.decimal128(5, 2)))),
        "day": pd.Series(pd.arrays.ArrowExtensionArray(pa.array([dt.date(2024, 1, 5), None, dt.date(1999, 12, 31)]))),
        "ts": pd.Series([pd.Timestamp("2024-01-05 10:00"), pd.NaT, pd.Timestamp("2024-01-05")]),
        "b": pd.array([True, None, False], dtype="boolean"),
        "t": pd.Series(["a", None, 'q"'], dtype=pd.StringDtype("pyarrow")),
    })
    assert quarantine_frame(frame)["values"].tolist() == _values_row_by_row(frame, [c for c in frame.columns if not c.startswith("__")])


def test_column_names_that_json_writes_specially() -> None:
    frame = quarantined({'say "hi"': pd.Series(["x"], dtype=pd.StringDtype("pyarrow")), "ü": pd.Series(["y"], dtype=pd.StringDtype("pyarrow"))})
    frame = frame.rename(columns={"ü": 7})
    assert quarantine_frame(frame)["values"].tolist() == ['{"say \\"hi\\"": "x", "7": "y"}']


def test_repeated_column_names_and_no_data_columns_and_no_rows() -> None:
    repeated = quarantined({"a": ["1"], "b": ["2"]}).rename(columns={"b": "a"})
    assert quarantine_frame(repeated)["values"].tolist() == ['{"a": "2"}']
    only_reasons = quarantined({"a": ["1", "2"]}).drop(columns=["a"])
    assert quarantine_frame(only_reasons)["values"].tolist() == ["{}", "{}"]
    empty = quarantine_frame(quarantined({"a": pd.Series([], dtype=pd.StringDtype("pyarrow"))}))
    assert len(empty) == 0 and list(empty.columns) == ["row", "rule", "reason", "values"]


def test_the_sql_store_and_the_memory_store_keep_the_same_rows(tmp_path) -> None:
    frame = quarantined({"t": pd.Series(TEXTS, dtype=pd.StringDtype("pyarrow")), "n": pd.array(range(len(TEXTS)), dtype="Int64")},
                        index=list(range(100, 100 + len(TEXTS))))
    sql = SqlRunStore(f"sqlite:///{tmp_path / 'state.db'}")
    memory = InMemoryRunStore()
    for store in (sql, memory):
        store.add_quarantined("run", "pipe", frame)
    sql.add_quarantined("run", "pipe", frame.iloc[:0])
    assert sql.quarantined("run").equals(memory.quarantined("run"))
    assert sql.quarantined("run")["values"].tolist() == _values_row_by_row(frame, ["t", "n"])
    sql.dispose()
