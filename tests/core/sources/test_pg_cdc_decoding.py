"""The test_decoding line parser: names in quotes, quoted values, NULLs, key changes, unchanged TOAST, TRUNCATE."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from etl_studio.core.cdc.decoding import DecodingError, parse_change


def test_begin_and_commit_carry_no_row() -> None:
    assert parse_change("BEGIN") is None
    assert parse_change("COMMIT") is None


def test_an_insert_with_quoted_names_and_values() -> None:
    change = parse_change(
        'table "Sales"."Order ""X""": INSERT: id[integer]:1 "first name"[text]:\'O\'\'Brien says \'\'hi\'\'\' amount[numeric]:-1.50 '
        "day[date]:'2024-02-29' ok[boolean]:false tags[text[]]:'{a,\"b c\"}' note[character varying]:null"
    )
    assert change is not None
    assert (change.schema, change.table, change.op) == ("Sales", 'Order "X"', "insert")
    assert change.values == {
        "id": 1, "first name": "O'Brien says 'hi'", "amount": decimal.Decimal("-1.50"), "day": dt.date(2024, 2, 29),
        "ok": False, "tags": '{a,"b c"}', "note": None,
    }


def test_an_update_that_changed_the_key_has_the_old_key() -> None:
    change = parse_change("table public.t: UPDATE: old-key: id[integer]:2 new-tuple: id[integer]:3 name[text]:'x y'")
    assert change is not None and change.op == "update"
    assert change.old_key == {"id": 2} and change.values == {"id": 3, "name": "x y"}


def test_an_unchanged_toast_value_is_listed_not_guessed() -> None:
    change = parse_change("table public.t: UPDATE: id[integer]:1 body[text]:unchanged-toast-datum n[bigint]:5")
    assert change is not None
    assert change.values == {"id": 1, "body": None, "n": 5} and change.unchanged == ("body",)


def test_timestamps_and_odd_values() -> None:
    change = parse_change(
        "table public.t: INSERT: a[timestamp without time zone]:'2024-01-02 03:04:05.5' "
        "b[timestamp with time zone]:'2024-01-02 03:04:05+02' c[date]:'infinity' d[double precision]:NaN"
    )
    assert change is not None
    assert change.values["a"] == dt.datetime(2024, 1, 2, 3, 4, 5, 500000)
    assert change.values["b"] == dt.datetime(2024, 1, 2, 1, 4, 5, tzinfo=dt.timezone.utc)
    assert change.values["c"] == "infinity"
    assert change.values["d"] != change.values["d"]  # NaN


def test_truncate_of_several_tables() -> None:
    change = parse_change("table public.a, public.b: TRUNCATE: restart_seqs")
    assert change is not None and change.op == "truncate"
    assert change.tables == (("public", "a"), ("public", "b"))


def test_a_delete_without_key_data() -> None:
    change = parse_change("table public.t: DELETE: (no-tuple-data)")
    assert change is not None and change.op == "delete" and change.values == {}


def test_garbage_is_a_decoding_error() -> None:
    with pytest.raises(DecodingError):
        parse_change("table public.t: INSERT: id[integer:1")
    with pytest.raises(DecodingError):
        parse_change("table public.t: MERGE: id[integer]:1")
