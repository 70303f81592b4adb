"""Applies a chunk of captured changes to a SQL table: upsert for insert/update, DELETE by key, in the caller's transaction."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from etl_studio.core.errors import ConfigError, DataError

OP_COLUMN = "__op__"
LSN_COLUMN = "__lsn__"
UNCHANGED_COLUMN = "__unchanged__"  # JSON list of columns an update left as they were (unchanged TOAST)
CHANGE_COLUMNS = (OP_COLUMN, LSN_COLUMN, UNCHANGED_COLUMN)
UPSERT_DIALECTS = ("postgresql", "sqlite", "mysql")


@dataclass(frozen=True)
class AppliedChanges:
    upserted: int = 0
    deleted: int = 0
    truncated: int = 0

    def __add__(self, other: AppliedChanges) -> AppliedChanges:
        return AppliedChanges(self.upserted + other.upserted, self.deleted + other.deleted, self.truncated + other.truncated)


def apply_changes(conn: Connection, table: sa.Table, changes: pd.DataFrame, keys: Sequence[str]) -> AppliedChanges:
    """Apply ``changes`` (the pg_cdc source's chunks: columns plus __op__, in commit order) to ``table``.

    Runs inside whatever transaction ``conn`` is in and commits nothing: the caller commits
    the changes with its control row, then advances the slot. Only the last change of each
    key counts (every change carries the whole row, so the last one is the row's state);
    a TRUNCATE empties the table at its place in the order. ``table`` may be reflected or
    built (its column *names* are matched to the chunk's columns; keys may be neutral).
    """
    if conn.dialect.name not in UPSERT_DIALECTS:
        raise ConfigError(f"applying changes needs an upsert, which {conn.dialect.name} lacks here")
    if OP_COLUMN not in changes.columns:
        raise ConfigError(f"the chunk has no {OP_COLUMN} column: only a change data capture source's rows can be applied")
    if not keys:
        raise ConfigError(f"applying changes to {table.name} needs key columns (the source table's primary key)")
    data_columns = [c for c in changes.columns if c not in CHANGE_COLUMNS]
    by_name = {column.name: column for column in table.columns}
    unknown = [c for c in data_columns if c not in by_name]
    if unknown:
        raise ConfigError(f"table {table.name} has no column {', '.join(unknown)} (columns: {', '.join(by_name)})")
    missing_keys = [k for k in keys if k not in data_columns]
    if missing_keys:
        raise ConfigError(f"key column {', '.join(missing_keys)} is not among the changed rows' columns ({', '.join(data_columns)})")
    target = _neutral(table, data_columns)
    ops = [str(op) for op in changes[OP_COLUMN].tolist()]
    rows = _records(changes, data_columns)
    unchanged = _unchanged_lists(changes)
    result = AppliedChanges()
    segment_start = 0
    for position, op in enumerate(ops + ["truncate"]):
        if op != "truncate":
            continue
        # The changes before a TRUNCATE, then the TRUNCATE itself (the sentinel at the end only flushes).
        result += _apply_segment(conn, target, data_columns, keys, ops, rows, unchanged, segment_start, position)
        if position < len(ops):
            conn.execute(target.delete())
            result += AppliedChanges(truncated=1)
        segment_start = position + 1
    return result


def change_statements(dialect_name: str, table: sa.Table, names: Sequence[str], keys: Sequence[str]) -> list[tuple[str, sa.Executable]]:
    """The statements apply_changes runs, labelled, for the target editor (compiled, never executed here)."""
    target = _neutral(table, list(names))
    column_keys = {name: f"c{i}" for i, name in enumerate(names)}
    condition = sa.and_(*[target.c[column_keys[k]] == sa.bindparam(f"k{i}") for i, k in enumerate(keys)])
    return [
        ("for each key whose last change is a delete", target.delete().where(condition)),
        ("for each key whose last change is an insert or update", _upsert(dialect_name, target, list(column_keys.values()), [column_keys[k] for k in keys])),
        ("for a TRUNCATE of the source table, at its place in the order", target.delete()),
    ]


def _apply_segment(
    conn: Connection, target: sa.Table, names: list[str], keys: Sequence[str], ops: list[str],
    rows: list[dict[str, Any]], unchanged: list[tuple[str, ...]], start: int, stop: int,
) -> AppliedChanges:
    last: dict[tuple[Any, ...], int] = {}
    for index in range(start, stop):
        key = tuple(rows[index][k] for k in keys)
        if any(value is None for value in key):
            raise DataError(
                f"a {ops[index]} change has no value for key column(s) {', '.join(keys)}: the source table needs a primary key "
                "(or REPLICA IDENTITY FULL) so that deletes and updates say which row they change"
            )
        earlier = last.get(key)
        if unchanged[index] and earlier is not None and ops[earlier] != "delete":
            # An update that did not send a TOASTed value: the earlier change of this row in
            # the chunk has it, and that earlier change is about to be dropped.
            for name in unchanged[index]:
                rows[index][name] = rows[earlier][name]
            unchanged[index] = tuple(n for n in unchanged[index] if n in unchanged[earlier])
        last[key] = index
    column_keys = {name: f"c{i}" for i, name in enumerate(names)}
    deletes = [index for index in last.values() if ops[index] == "delete"]
    upserts: dict[tuple[str, ...], list[int]] = {}
    for index in last.values():
        if ops[index] != "delete":
            upserts.setdefault(unchanged[index], []).append(index)
    if deletes:
        condition = sa.and_(*[target.c[column_keys[k]] == sa.bindparam(f"k{i}") for i, k in enumerate(keys)])
        conn.execute(target.delete().where(condition), [{f"k{i}": rows[index][k] for i, k in enumerate(keys)} for index in deletes])
    for left_alone, indexes in upserts.items():
        written = [n for n in names if n not in left_alone]
        statement = _upsert(conn.dialect.name, target, [column_keys[n] for n in written], [column_keys[k] for k in keys])
        conn.execute(statement, [{column_keys[n]: rows[index][n] for n in written} for index in indexes])
    return AppliedChanges(upserted=sum(len(v) for v in upserts.values()), deleted=len(deletes))


def _upsert(dialect: str, table: sa.Table, columns: list[str], keys: list[str]) -> sa.Executable:
    updates = [c for c in columns if c not in keys]
    if dialect == "mysql":
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        statement = mysql_insert(table)
        # ON DUPLICATE KEY needs something to set; re-setting a key to itself changes nothing.
        return statement.on_duplicate_key_update({table.c[c]: statement.inserted[c] for c in (updates or keys[:1])})
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    statement = insert(table)
    index = [table.c[k] for k in keys]
    if not updates:
        return statement.on_conflict_do_nothing(index_elements=index)
    return statement.on_conflict_do_update(index_elements=index, set_={table.c[c]: statement.excluded[c] for c in updates})


def _neutral(table: sa.Table, names: list[str]) -> sa.Table:
    """A copy of ``table`` with column keys c0, c1 ...: names with spaces or '%' never become bound parameter names."""
    by_name = {column.name: column for column in table.columns}
    columns = [sa.Column(name, by_name[name].type, key=f"c{i}") for i, name in enumerate(names)]
    return sa.Table(table.name, sa.MetaData(), *columns, schema=table.schema)


def _records(frame: pd.DataFrame, names: list[str]) -> list[dict[str, Any]]:
    columns = {name: [_plain(v) for v in frame[name].tolist()] for name in names}
    return [{name: columns[name][i] for name in names} for i in range(len(frame))]


def _plain(value: Any) -> Any:
    """A pandas/numpy cell as the plain Python value a driver binds (NA -> None)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    item = getattr(value, "item", None)
    if item is not None and type(value).__module__ == "numpy":
        return item()
    return value


def _unchanged_lists(frame: pd.DataFrame) -> list[tuple[str, ...]]:
    if UNCHANGED_COLUMN not in frame.columns:
        return [()] * len(frame)
    return [tuple(json.loads(v)) if isinstance(v, str) and v else () for v in frame[UNCHANGED_COLUMN].tolist()]
