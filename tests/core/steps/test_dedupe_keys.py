"""Dedupe's row keys: equal rows hash equal whatever holds them, different rows do not, and the run's keys stay small."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl_studio.core.steps._keys import SeenKeys, key_hashes, text_hashes
from etl_studio.core.steps.dedupe import Dedupe


def arrow_text(values: list[str | None]) -> pd.Series:
    return pd.Series(values, dtype=pd.StringDtype("pyarrow"))


EDGE_STRINGS = [
    "", " ", "a", "a ", " a", "A", "abcdefg", "abcdefgh", "abcdefghi", "abcdefgh\x00", "abcdefgh\x00\x00",
    "\x00", "\x00\x00", "x" * 16, "x" * 17, "x" * 15 + "y", "jürgen@beispiel.de", "jurgen@beispiel.de", "用户@例子.广告",
    "N/A", "NULL", "0", "00", "007", "7", "1.5", "1.50", "a" * 1000, "a" * 999 + "b", "ab", "ba",
]


def test_every_distinct_string_gets_its_own_hash_and_null_is_none_of_them() -> None:
    hashes = text_hashes(pa.array(EDGE_STRINGS + [None]))
    assert len(set(hashes.tolist())) == len(EDGE_STRINGS) + 1


def test_a_string_hashes_the_same_wherever_it_sits() -> None:
    forward = text_hashes(pa.array(EDGE_STRINGS))
    backward = text_hashes(pa.array(EDGE_STRINGS[::-1]))
    assert forward.tolist() == backward.tolist()[::-1]
    sliced = pa.array(["zz"] + EDGE_STRINGS + ["zz"]).slice(1, len(EDGE_STRINGS))
    assert text_hashes(sliced).tolist() == forward.tolist()
    assert text_hashes(pa.array(EDGE_STRINGS, pa.large_string())).tolist() == forward.tolist()
    # pandas' large_string storage is read with its 64-bit offsets, sliced or not
    sliced_large = pa.array(["zz"] + EDGE_STRINGS + ["zz"], pa.large_string()).slice(1, len(EDGE_STRINGS))
    assert text_hashes(sliced_large).tolist() == forward.tolist()


def test_a_string_hashes_the_same_in_a_column_of_short_strings_and_beside_a_long_one() -> None:
    short = ["", "a", "abcdefgh", "abcdefghi", "x" * 16, "x" * 17, "jürgen@beispiel.de", None]
    alone = text_hashes(pa.array(short))
    beside_long = text_hashes(pa.array(short + ["y" * 5000]))
    assert alone.tolist() == beside_long.tolist()[:-1]


def test_text_rows_hash_the_same_in_arrow_python_and_object_columns() -> None:
    data = {"a": ["x", None, "", "é"], "b": ["1", "2", None, "4"]}
    arrow = pd.DataFrame({k: arrow_text(v) for k, v in data.items()})
    python = pd.DataFrame({k: pd.Series(v, dtype=pd.StringDtype("python")) for k, v in data.items()})
    objects = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in data.items()})
    assert key_hashes(arrow).tolist() == key_hashes(python).tolist() == key_hashes(objects).tolist()


def test_a_sliced_pandas_text_column_hashes_its_own_rows() -> None:
    frame = pd.DataFrame({"a": arrow_text(["p", "q", "r", "s"]), "a2": arrow_text(["1", "2", "3", "4"])})
    tail = frame.iloc[2:]  # pandas keeps the storage and slices it: the hashes must start at 'r'
    assert key_hashes(tail).tolist() == key_hashes(frame).tolist()[2:]
    fresh = pd.DataFrame({"a": arrow_text(["r", "s"]), "a2": arrow_text(["3", "4"])})
    assert key_hashes(tail).tolist() == key_hashes(fresh).tolist()


def test_values_moved_between_columns_make_another_row() -> None:
    frame = pd.DataFrame({"a": arrow_text(["x", "", None, "ab"]), "b": arrow_text(["", "x", "x", "c"])})
    other = pd.DataFrame({"a": arrow_text(["", "x", "x", "a"]), "b": arrow_text(["x", "", None, "bc"])})
    assert all(a != b for a, b in zip(key_hashes(frame).tolist(), key_hashes(other).tolist(), strict=True))
    assert len(set(key_hashes(frame).tolist())) == 4


def test_number_and_date_columns_keep_pandas_hashing() -> None:
    frame = pd.DataFrame({"n": pd.array([1, None, 1], dtype="Int64"), "t": arrow_text(["a", "a", "a"])})
    hashes = key_hashes(frame).tolist()
    assert hashes[0] == hashes[2] != hashes[1]


def test_seen_keys_take_eight_bytes_a_key_and_answer_membership() -> None:
    seen = SeenKeys()
    rng = np.random.default_rng(3)
    batches = [np.unique(rng.integers(0, 2**64, 1000, dtype=np.uint64)) for _ in range(5)]
    for batch in batches:
        seen.add_unique_sorted(batch[~seen.contains(batch)])
    everything = np.unique(np.concatenate(batches))
    assert len(seen) == len(everything) and seen.nbytes == 8 * len(everything)
    assert seen.contains(everything).all()
    absent = np.setdiff1d(np.array([0, 1, 2**63, 2**64 - 1], dtype=np.uint64), everything)
    assert not seen.contains(absent).any()
    assert seen.contains(np.empty(0, dtype=np.uint64)).tolist() == []


def _reference_first(chunks: list[pd.DataFrame]) -> list[list[int]]:
    seen: set[tuple] = set()
    kept = []
    for chunk in chunks:
        rows = []
        for label, row in zip(chunk.index, chunk.itertuples(index=False, name=None), strict=True):
            key = tuple(None if pd.isna(v) else v for v in row)
            if key not in seen:
                seen.add(key)
                rows.append(label)
        kept.append(rows)
    return kept


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["", " ", "a", "ab", "abcdefgh", "abcdefghi", "é", "N/A", None]),
                          st.sampled_from(["1", "01", "", None, "x" * 9])), max_size=40),
       st.integers(1, 7))
def test_dedupe_keeps_exactly_the_first_of_every_row_across_chunks(rows: list[tuple], chunk_size: int) -> None:
    frame = pd.DataFrame({"a": arrow_text([r[0] for r in rows]), "b": arrow_text([r[1] for r in rows])})
    chunks = [frame.iloc[i:i + chunk_size] for i in range(0, len(frame), chunk_size)] or [frame]
    step = Dedupe.from_spec({}, None)
    got = [step.process(chunk).index.tolist() for chunk in chunks]
    assert got == _reference_first(chunks)


def test_dedupe_on_a_generated_file_matches_python_tuples() -> None:
    rng = random.Random(5)
    words = ["anna@example.com", "ANNA@example.com", " anna@example.com", "", None, "N/A", "bob@x.de", "jürgen@x.de"]
    frame = pd.DataFrame({
        "email": arrow_text([rng.choice(words) for _ in range(3000)]),
        "qty": arrow_text([rng.choice(["1", "01", "2", None]) for _ in range(3000)]),
    })
    chunks = [frame.iloc[i:i + 700] for i in range(0, len(frame), 700)]
    step = Dedupe.from_spec({}, None)
    assert [step.process(c).index.tolist() for c in chunks] == _reference_first(chunks)


@pytest.mark.parametrize("size", [0, 1])
def test_empty_and_single_row_chunks(size: int) -> None:
    step = Dedupe.from_spec({}, None)
    chunk = pd.DataFrame({"a": arrow_text(["x"] * size)})
    assert len(step.process(chunk)) == size
    assert len(step.process(chunk)) == 0


def test_seen_keys_stay_in_a_few_capped_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SeenKeys, "MAX_RUN", 4_000)
    seen = SeenKeys()
    rng = np.random.default_rng(5)
    added = []
    for _ in range(60):
        batch = np.unique(rng.integers(0, 2**64, 500, dtype=np.uint64))
        batch = batch[~seen.contains(batch)]
        seen.add_unique_sorted(batch)
        added.append(batch)
    everything = np.concatenate(added)
    assert len(seen) == len(everything) == len(np.unique(everything)) and seen.nbytes == 8 * len(everything)
    assert all(len(run) <= 4_000 for run in seen._runs) and len(seen._runs) <= len(everything) // 4_000 + 12
    assert all((np.diff(run.astype(np.float64)) >= 0).all() for run in seen._runs)
    assert seen.contains(everything).all()
    assert not seen.contains(np.setdiff1d(rng.integers(0, 2**64, 1000, dtype=np.uint64), everything)).any()
