"""Each load strategy on SQLite, PostgreSQL and MariaDB, with the table's contents asserted before and after."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from etl_studio.core.errors import ConfigError, DataError
from etl_studio.core.project.models import TargetColumn
from etl_studio.core.targets.base import ControlRecord

from .conftest import COLUMNS, Db, frame

T1, T2, T3 = datetime(2024, 1, 1, 8), datetime(2024, 2, 1, 8), datetime(2024, 3, 1, 8)
OPEN_END = datetime(9999, 12, 31)


def test_merge_updates_changed_rows_inserts_new_ones_and_deletes_the_missing(db: Db, table_name: str) -> None:
    target = db.target(table_name, mode="merge", keys=["id"], delete_missing=True)
    db.load(target, frame((1, "Ann", "Oslo"), (2, "Bob", "Rome"), (3, "Cid", None)))
    assert db.rows(table_name, "id") == [(1, "Ann", "Oslo"), (2, "Bob", "Rome"), (3, "Cid", None)]

    # 1 unchanged, 2 changed, 3 gone from the snapshot, 4 new; 4 twice: the last row wins.
    db.load(target, frame((1, "Ann", "Oslo"), (2, "Bob", "Paris")), frame((4, "Dan", "x"), (4, "Dan", "Lima")))

    assert db.rows(table_name, "id") == [(1, "Ann", "Oslo"), (2, "Bob", "Paris"), (4, "Dan", "Lima")]


def test_merge_without_delete_keeps_rows_missing_from_the_run(db: Db, table_name: str) -> None:
    target = db.target(table_name, mode="merge", keys=["id"])
    db.load(target, frame((1, "Ann", None), (2, "Bob", "Rome")))
    db.load(target, frame((1, "Ann", "Oslo")))  # NULL -> value is a change
    assert db.rows(table_name, "id") == [(1, "Ann", "Oslo"), (2, "Bob", "Rome")]


def test_merge_plan_counts_without_changing_the_table(db: Db, table_name: str) -> None:
    target = db.target(table_name, mode="merge", keys=["id"], delete_missing=True)
    db.load(target, frame((1, "Ann", "Oslo"), (2, "Bob", "Rome"), (3, "Cid", None)))
    before = db.rows(table_name, "id")
    session = target.open(COLUMNS, db.run_id(), planning=True)
    session.write(frame((1, "Ann", "Oslo"), (2, "Bob", "Paris"), (4, "Dan", "Lima")))
    plan = session.plan()
    session.rollback()
    assert plan.counts == {"insert": 1, "update": 1, "unchanged": 1, "delete": 1}
    assert plan.samples["update"].to_dict("records") == [{"id": 2, "name": "Bob", "city": "Paris"}]
    assert plan.samples["delete"]["id"].tolist() == [3]
    assert db.rows(table_name, "id") == before


def _history(db: Db, table: str) -> list[tuple]:
    rows = db.rows(table, "id", "version", columns=["id", "name", "city", "valid_from", "valid_to", "is_current", "version"])
    return [(*row[:5], bool(row[5]), row[6]) for row in rows]


def test_scd2_keeps_history_over_three_runs(db: Db, table_name: str) -> None:
    target = db.target(table_name, mode="scd2", keys=["id"], tracked_columns=["name", "city"], close_missing=True)
    db.load(target, frame((1, "Ann", "Oslo"), (2, "Bob", "Rome"), (3, "Cid", None)), at=T1)
    assert _history(db, table_name) == [
        (1, "Ann", "Oslo", T1, OPEN_END, True, 1),
        (2, "Bob", "Rome", T1, OPEN_END, True, 1),
        (3, "Cid", None, T1, OPEN_END, True, 1),
    ]

    # 1 unchanged, 2 moves, 3 gets a city (NULL -> value is a change), 4 is new.
    db.load(target, frame((1, "Ann", "Oslo"), (2, "Bob", "Paris"), (3, "Cid", "Bern"), (4, "Dan", "Lima")), at=T2)
    assert _history(db, table_name) == [
        (1, "Ann", "Oslo", T1, OPEN_END, True, 1),
        (2, "Bob", "Rome", T1, T2, False, 1),
        (2, "Bob", "Paris", T2, OPEN_END, True, 2),
        (3, "Cid", None, T1, T2, False, 1),
        (3, "Cid", "Bern", T2, OPEN_END, True, 2),
        (4, "Dan", "Lima", T2, OPEN_END, True, 1),
    ]

    # 2 moves again, 4 is gone from the snapshot (closed), 1 and 3 unchanged.
    db.load(target, frame((1, "Ann", "Oslo"), (2, "Bob", "Oslo"), (3, "Cid", "Bern")), at=T3)
    assert _history(db, table_name) == [
        (1, "Ann", "Oslo", T1, OPEN_END, True, 1),
        (2, "Bob", "Rome", T1, T2, False, 1),
        (2, "Bob", "Paris", T2, T3, False, 2),
        (2, "Bob", "Oslo", T3, OPEN_END, True, 3),
        (3, "Cid", None, T1, T2, False, 1),
        (3, "Cid", "Bern", T2, OPEN_END, True, 2),
        (4, "Dan", "Lima", T2, T3, False, 1),
    ]


def test_scd2_untracked_changes_do_not_make_versions_and_plan_counts_expiries(db: Db, table_name: str) -> None:
    target = db.target(table_name, mode="scd2", keys=["id"], tracked_columns=["city"])
    db.load(target, frame((1, "Ann", "Oslo"), (2, "Bob", "Rome")), at=T1)
    session = target.open(COLUMNS, db.run_id(), planning=True, load_time=T2)
    session.write(frame((1, "Anne", "Oslo"), (2, "Bob", "Paris"), (5, "Eve", None)))
    plan = session.plan()
    session.rollback()
    assert plan.counts == {"insert": 2, "expire": 1, "unchanged": 1}
    assert plan.samples["expire"][["id", "city"]].to_dict("records") == [{"id": 2, "city": "Rome"}]
    db.load(target, frame((1, "Anne", "Oslo"), (2, "Bob", "Paris"), (5, "Eve", None)), at=T2)
    assert _history(db, table_name) == [
        (1, "Ann", "Oslo", T1, OPEN_END, True, 1),
        (2, "Bob", "Rome", T1, T2, False, 1),
        (2, "Bob", "Paris", T2, OPEN_END, True, 2),
        (5, "Eve", None, T2, OPEN_END, True, 1),
    ]


def test_scd2_effective_from_column_dates_the_versions(db: Db, table_name: str) -> None:
    columns = [*COLUMNS, TargetColumn(name="updated_at", type="datetime")]
    target = db.target(table_name, mode="scd2", keys=["id"], tracked_columns=["city"], effective_from="updated_at", version_column=None)
    first = frame((1, "Ann", "Oslo")).assign(updated_at=[datetime(2024, 5, 1)])
    second = frame((1, "Ann", "Rome")).assign(updated_at=[datetime(2024, 6, 1)])
    db.load(target, first, columns=columns)
    db.load(target, second, columns=columns)
    rows = db.rows(table_name, "valid_from", columns=["city", "valid_from", "valid_to", "is_current"])
    assert [(c, f, t, bool(cur)) for c, f, t, cur in rows] == [
        ("Oslo", datetime(2024, 5, 1), datetime(2024, 6, 1), False),
        ("Rome", datetime(2024, 6, 1), OPEN_END, True),
    ]


def test_a_failed_scd2_run_leaves_the_history_as_it_was(db: Db, table_name: str) -> None:
    target = db.target(table_name, mode="scd2", keys=["id"])
    db.load(target, frame((1, "Ann", "Oslo")), at=T1)
    before = _history(db, table_name)
    session = target.open(COLUMNS, db.run_id(), load_time=T2)
    session.write(frame((1, "Ann", "Rome")))
    session.rollback()
    assert _history(db, table_name) == before


def test_content_hash_dedupe_never_loads_the_same_row_twice(db: Db, table_name: str) -> None:
    target = db.target(table_name, hash_column="row_hash")
    db.load(target, frame((1, "Ann", "Oslo"), (2, "Bob", None), (2, "Bob", None)))
    db.load(target, frame((1, "Ann", "Oslo"), (2, "Bob", None), (2, "Bob", ""), (3, "Cid", "Bern")))
    rows = db.rows(table_name, "id", "city", columns=["id", "name", "city"])
    assert sorted(rows, key=lambda r: (r[0], r[2] is not None)) == [(1, "Ann", "Oslo"), (2, "Bob", None), (2, "Bob", ""), (3, "Cid", "Bern")]
    hashes = db.rows(table_name, columns=["row_hash"])
    assert len({h for (h,) in hashes}) == 4 and all(len(h) == 64 for (h,) in hashes)


def test_dead_letter_table_takes_refused_rows_and_the_rest_load(db: Db, table_name: str) -> None:
    dead = table_name + "_rejected"
    target = db.target(table_name, mode="append", keys=["id"], dead_letter_table=dead)
    db.load(target, frame((1, "Ann", "Oslo")))
    # 1 exists already (primary key), 3 comes twice: the second 3 is refused too.
    rows = frame((2, "Bob", "Rome"), (1, "Dup", "x"), (3, "Cid", None), (4, "Dan", "Lima"), (3, "Again", None), (5, "Eve", "Bern"))
    run_id = db.load(target, rows)
    assert db.rows(table_name, "id") == [(1, "Ann", "Oslo"), (2, "Bob", "Rome"), (3, "Cid", None), (4, "Dan", "Lima"), (5, "Eve", "Bern")]
    refused = db.rows(dead, "source_row", columns=["run_id", "source_row", "error", "row_values"])
    assert [(r[0], r[1], json.loads(r[3])) for r in refused] == [
        (run_id, 1, {"id": 1, "name": "Dup", "city": "x"}),
        (run_id, 4, {"id": 3, "name": "Again", "city": None}),
    ]
    assert all(("duplicate" in r[2].lower() or "unique" in r[2].lower()) for r in refused)


def test_dead_letter_limit_fails_the_run_and_loads_nothing(db: Db, table_name: str) -> None:
    dead = table_name + "_rejected"
    target = db.target(table_name, mode="append", keys=["id"], dead_letter_table=dead, max_rejected_rows=1)
    db.load(target, frame((1, "Ann", "Oslo"), (2, "Bob", "Rome")))
    session = target.open(COLUMNS, db.run_id())
    with pytest.raises(DataError, match="more than 1"):
        session.write(frame((1, "a", None), (2, "b", None), (3, "c", None)))
    assert db.rows(table_name, "id") == [(1, "Ann", "Oslo"), (2, "Bob", "Rome")]
    assert db.rows(dead) == []


def test_dead_letter_plan_counts_rejects(db: Db, table_name: str) -> None:
    target = db.target(table_name, mode="append", keys=["id"], dead_letter_table=table_name + "_rejected")
    db.load(target, frame((1, "Ann", "Oslo")))
    session = target.open(COLUMNS, db.run_id(), planning=True)
    session.write(frame((1, "Dup", None), (2, "Bob", None)))
    plan = session.plan()
    session.rollback()
    assert plan.counts == {"insert": 1, "reject": 1}
    assert plan.samples["reject"]["row"].tolist() == [0]
    assert db.rows(table_name, "id") == [(1, "Ann", "Oslo")]


def test_a_window_loaded_once_is_refused_the_second_time(db: Db, table_name: str) -> None:
    target = db.target(table_name)
    run_id = db.load(target, frame((1, "Ann", "Oslo")), execution_id="orders|2024-01-01")
    assert target.committed_execution("strategies", "orders|2024-01-01") == run_id
    session = target.open(COLUMNS, db.run_id())
    session.write(frame((1, "Ann", "Oslo")))
    with pytest.raises(DataError, match="already loaded"):
        session.commit(ControlRecord(db.run_id(), "strategies", datetime.now(timezone.utc), 1, execution_id="orders|2024-01-01"))
    assert db.rows(table_name, "id") == [(1, "Ann", "Oslo")]


def test_partitions_are_refused_before_the_run_where_the_database_has_none(db: Db, table_name: str) -> None:
    if db.dialect == "postgresql":
        pytest.skip("PostgreSQL has declarative partitions")
    columns = [*COLUMNS, TargetColumn(name="day", type="date")]
    target = db.target(table_name, partition_column="day")
    assert any("needs PostgreSQL" in line for line in target.schema_differences(columns))
    with pytest.raises(ConfigError, match="needs PostgreSQL"):
        target.open(columns, db.run_id())
    assert "needs PostgreSQL" in target.describe_load(columns)


def test_describe_load_shows_the_strategy_sql(db: Db, table_name: str) -> None:
    merge = db.target(table_name, mode="merge", keys=["id"], delete_missing=True).describe_load(COLUMNS)
    assert "UPDATE" in merge and "INSERT INTO" in merge and "DELETE FROM" in merge and "TEMPORARY" in merge
    scd2 = db.target(table_name, mode="scd2", keys=["id"]).describe_load(COLUMNS)
    assert "valid_to" in scd2 and "is_current" in scd2 and "max(" in scd2.lower()
    assert "{" not in merge + scd2  # no leftover template text


def test_replace_and_upsert_plans_count_without_changing_the_table(db: Db, table_name: str) -> None:
    db.load(db.target(table_name, keys=["id"]), frame((1, "Ann", "Oslo"), (2, "Bob", "Rome")))
    before = db.rows(table_name, "id")
    session = db.target(table_name, mode="replace", keys=["id"]).open(COLUMNS, db.run_id(), planning=True)
    session.write(frame((7, "Gus", None)))
    replace = session.plan()
    session.rollback()
    assert replace.counts == {"delete": 2, "insert": 1}
    assert replace.samples["delete"]["id"].tolist() == [1, 2]
    session = db.target(table_name, mode="upsert", keys=["id"]).open(COLUMNS, db.run_id(), planning=True)
    session.write(frame((2, "Bobby", "Rome"), (3, "Cid", None)))
    upsert = session.plan()
    session.rollback()
    assert upsert.counts == {"insert": 1, "update": 1}
    assert db.rows(table_name, "id") == before


def test_dead_letter_with_upsert_sets_aside_not_null_violations(db: Db, table_name: str) -> None:
    dead = table_name + "_rejected"
    columns = [COLUMNS[0], TargetColumn(name="name", type="string", nullable=False), COLUMNS[2]]
    target = db.target(table_name, mode="upsert", keys=["id"], dead_letter_table=dead)
    db.load(target, frame((1, "Ann", "Oslo")), columns=columns)
    db.load(target, frame((1, "Anne", "Oslo"), (2, None, "Rome"), (3, "Cid", None)), columns=columns)
    assert db.rows(table_name, "id") == [(1, "Anne", "Oslo"), (3, "Cid", None)]
    refused = db.rows(dead, columns=["source_row", "row_values"])
    assert [(r[0], json.loads(r[1])) for r in refused] == [(1, {"id": 2, "name": None, "city": "Rome"})]
