"""RunStore: where run records, log lines, rule results and quarantined rows live (SQL or memory)."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from etl_studio.core.engine.events import RunLogLine
from etl_studio.core.history.records import RuleResult, RunRecord, RunStatus

STATE_FOLDER = ".etl_studio"
STATE_FILE = "state.db"


class RunStore(Protocol):
    def save_run(self, record: RunRecord) -> None: ...
    def get_run(self, run_id: str) -> RunRecord | None: ...
    def list_runs(self, pipeline: str | None = None, limit: int = 100) -> list[RunRecord]: ...
    def unfinished_runs(self) -> list[RunRecord]: ...
    def clear_run_details(self, run_id: str) -> None: ...
    def add_logs(self, lines: Sequence[RunLogLine]) -> None: ...
    def logs(self, run_id: str) -> list[RunLogLine]: ...
    def save_rule_results(self, results: Sequence[RuleResult]) -> None: ...
    def rule_results(self, run_id: str) -> list[RuleResult]: ...
    def add_quarantined(self, run_id: str, pipeline: str, rows: pd.DataFrame) -> None: ...
    def quarantined(self, run_id: str, limit: int = 1000) -> pd.DataFrame: ...


QUARANTINE_COLUMNS = ["row", "rule", "reason", "values"]


def quarantine_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """Normalise quarantined rows (data columns + ``__rule__``/``__reason__``) into store form.

    ``values`` is each row as JSON, every value as text (NULL as null). Built a column at a time:
    Arrow text is quoted as is where it needs no escaping (most values), the rest goes through json.
    """
    data_cols = [c for c in rows.columns if c not in ("__rule__", "__reason__")]
    if len(set(data_cols)) != len(data_cols) or not len(rows):
        values = _values_row_by_row(rows, data_cols)  # repeated names: a dict keeps the last of them
    else:
        pieces: list[pa.Array | str] = []
        for position, name in enumerate(data_cols):
            key = json.dumps({name: 0}, ensure_ascii=False)[1:-4]  # the key as json writes it ('1' for 1)
            pieces.append(("{" if position == 0 else ", ") + key + ": ")
            pieces.append(_json_texts(rows[name]))
        pieces.append("}" if data_cols else "{}")
        joined = pc.binary_join_element_wise(*pieces, "") if data_cols else pa.array(["{}"] * len(rows))
        values = joined.to_pylist()
    return pd.DataFrame(
        {"row": [int(i) for i in rows.index], "rule": rows["__rule__"].astype(str).tolist(),
         "reason": rows["__reason__"].astype(str).tolist(), "values": values}
    )


def _values_row_by_row(rows: pd.DataFrame, data_cols: list[Any]) -> list[str]:
    return [
        json.dumps({k: (None if pd.isna(v) else str(v)) for k, v in zip(data_cols, rec)}, ensure_ascii=False)
        for rec in rows[data_cols].itertuples(index=False, name=None)
    ]


# A character json.dumps escapes (a quote, a backslash, a control character): such values go through json.
_NEEDS_ESCAPE = r'[\x00-\x1f"\\]'


def _json_texts(column: pd.Series) -> pa.Array:
    """Each value as the JSON text json.dumps(str(value), ensure_ascii=False) gives, NULL as null."""
    from etl_studio.core import casting

    dtype = column.dtype
    arrow_text = (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow") or (
        isinstance(dtype, pd.ArrowDtype) and pa.types.is_string(dtype.pyarrow_dtype)
    )
    if not arrow_text:
        return pa.array(
            [json.dumps(None if pd.isna(v) else str(v), ensure_ascii=False) for v in column.tolist()], pa.string()
        )
    text = casting.to_arrow(column)
    quoted = pc.binary_join_element_wise('"', text, '"', "")
    escape = pc.fill_null(pc.match_substring_regex(text, _NEEDS_ESCAPE), False)
    if pc.any(escape).as_py():
        at = np.flatnonzero(escape.to_numpy(zero_copy_only=False))
        escaped = [json.dumps(v, ensure_ascii=False) for v in pc.take(text, pa.array(at)).to_pylist()]
        mask = np.zeros(len(text), dtype=bool)
        mask[at] = True
        quoted = pc.replace_with_mask(quoted, pa.array(mask), pa.array(escaped, pa.string()))
    return pc.fill_null(quoted, "null")


class InMemoryRunStore:
    """For tests and previews: the same contract, nothing on disk."""

    def __init__(self) -> None:
        self._runs: dict[str, RunRecord] = {}
        self._logs: dict[str, list[RunLogLine]] = {}
        self._rules: dict[str, list[RuleResult]] = {}
        self._quarantine: dict[str, list[pd.DataFrame]] = {}
        self._lock = threading.Lock()

    def save_run(self, record: RunRecord) -> None:
        with self._lock:
            self._runs[record.run_id] = RunRecord(**record.__dict__)

    def get_run(self, run_id: str) -> RunRecord | None:
        record = self._runs.get(run_id)
        return RunRecord(**record.__dict__) if record else None

    def list_runs(self, pipeline: str | None = None, limit: int = 100) -> list[RunRecord]:
        runs = [r for r in self._runs.values() if pipeline is None or r.pipeline == pipeline]
        runs.sort(key=lambda r: r.created_at, reverse=True)
        return [RunRecord(**r.__dict__) for r in runs[:limit]]

    def unfinished_runs(self) -> list[RunRecord]:
        return [RunRecord(**r.__dict__) for r in self._runs.values() if not r.status.is_final]

    def clear_run_details(self, run_id: str) -> None:
        with self._lock:
            self._rules.pop(run_id, None)
            self._quarantine.pop(run_id, None)

    def add_logs(self, lines: Sequence[RunLogLine]) -> None:
        with self._lock:
            for line in lines:
                self._logs.setdefault(line.run_id, []).append(line)

    def logs(self, run_id: str) -> list[RunLogLine]:
        return list(self._logs.get(run_id, []))

    def save_rule_results(self, results: Sequence[RuleResult]) -> None:
        with self._lock:
            for result in results:
                self._rules.setdefault(result.run_id, []).append(result)

    def rule_results(self, run_id: str) -> list[RuleResult]:
        return list(self._rules.get(run_id, []))

    def add_quarantined(self, run_id: str, pipeline: str, rows: pd.DataFrame) -> None:
        with self._lock:
            self._quarantine.setdefault(run_id, []).append(quarantine_frame(rows))

    def quarantined(self, run_id: str, limit: int = 1000) -> pd.DataFrame:
        parts = self._quarantine.get(run_id, [])
        if not parts:
            return pd.DataFrame(columns=QUARANTINE_COLUMNS)
        return pd.concat(parts, ignore_index=True).head(limit)


def _utc(value: datetime | None) -> datetime | None:
    # SQLite gives naive datetimes back; every time in a record is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


class SqlRunStore:
    """The state database: SQLite beside the project by default, or any SQLAlchemy URL."""

    def __init__(self, url: str | sa.URL) -> None:
        self.url = url
        self.engine = sa.create_engine(url)
        if self.engine.dialect.name == "sqlite":
            # WAL lets the app read history while a worker thread writes a run.
            @sa.event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                cursor = dbapi_conn.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=10000")
                cursor.close()

        self.metadata = sa.MetaData()
        self.runs = sa.Table(
            "runs", self.metadata,
            sa.Column("run_id", sa.String(32), primary_key=True),
            sa.Column("pipeline", sa.String(255), nullable=False, index=True),
            sa.Column("trigger", sa.String(32), nullable=False),
            sa.Column("status", sa.String(16), nullable=False, index=True),
            sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Column("started_at", sa.DateTime),
            sa.Column("finished_at", sa.DateTime),
            sa.Column("rows_read", sa.BigInteger, nullable=False, default=0),
            sa.Column("rows_quarantined", sa.BigInteger, nullable=False, default=0),
            sa.Column("rows_loaded", sa.BigInteger, nullable=False, default=0),
            sa.Column("error", sa.Text),
            sa.Column("error_kind", sa.String(32)),
            sa.Column("params", sa.Text),
            sa.Column("host", sa.String(255)),
            sa.Column("pid", sa.Integer),
        )
        self.log_table = sa.Table(
            "run_logs", self.metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.String(32), nullable=False, index=True),
            sa.Column("pipeline", sa.String(255), nullable=False),
            sa.Column("time", sa.DateTime, nullable=False),
            sa.Column("level", sa.String(10), nullable=False),
            sa.Column("message", sa.Text, nullable=False),
        )
        self.rules_table = sa.Table(
            "rule_results", self.metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.String(32), nullable=False, index=True),
            sa.Column("rule", sa.String(255), nullable=False),
            sa.Column("kind", sa.String(64), nullable=False),
            sa.Column("severity", sa.String(16), nullable=False),
            sa.Column("action", sa.String(16), nullable=False),
            sa.Column("rows_checked", sa.BigInteger, nullable=False),
            sa.Column("rows_failed", sa.BigInteger, nullable=False),
            sa.Column("samples", sa.Text),
            sa.Column("run_level_failure", sa.Text),
        )
        self.quarantine_table = sa.Table(
            "quarantine", self.metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.String(32), nullable=False, index=True),
            sa.Column("pipeline", sa.String(255), nullable=False),
            sa.Column("row", sa.BigInteger, nullable=False),
            sa.Column("rule", sa.String(255), nullable=False),
            sa.Column("reason", sa.Text, nullable=False),
            sa.Column("values", sa.Text, nullable=False),
        )
        create_tables(self.metadata, self.engine)

    # -- runs
    def _row_to_record(self, row: sa.Row[Any]) -> RunRecord:
        m = row._mapping
        return RunRecord(
            run_id=m["run_id"], pipeline=m["pipeline"], trigger=m["trigger"], status=RunStatus(m["status"]),
            created_at=_utc(m["created_at"]), started_at=_utc(m["started_at"]), finished_at=_utc(m["finished_at"]),  # type: ignore[arg-type]
            rows_read=m["rows_read"], rows_quarantined=m["rows_quarantined"], rows_loaded=m["rows_loaded"],
            error=m["error"], error_kind=m["error_kind"], params=json.loads(m["params"] or "{}"), host=m["host"] or "", pid=m["pid"] or 0,
        )

    def save_run(self, record: RunRecord) -> None:
        values = {
            "pipeline": record.pipeline, "trigger": record.trigger, "status": record.status.value,
            "created_at": record.created_at, "started_at": record.started_at, "finished_at": record.finished_at,
            "rows_read": record.rows_read, "rows_quarantined": record.rows_quarantined, "rows_loaded": record.rows_loaded,
            "error": record.error, "error_kind": record.error_kind, "params": json.dumps(record.params, default=str, sort_keys=True),
            "host": record.host, "pid": record.pid,
        }
        with self.engine.begin() as conn:
            updated = conn.execute(self.runs.update().where(self.runs.c.run_id == record.run_id).values(**values))
            if updated.rowcount == 0:
                conn.execute(self.runs.insert().values(run_id=record.run_id, **values))

    def get_run(self, run_id: str) -> RunRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(self.runs).where(self.runs.c.run_id == run_id)).first()
        return self._row_to_record(row) if row else None

    def list_runs(self, pipeline: str | None = None, limit: int = 100) -> list[RunRecord]:
        query = sa.select(self.runs).order_by(self.runs.c.created_at.desc()).limit(limit)
        if pipeline is not None:
            query = query.where(self.runs.c.pipeline == pipeline)
        with self.engine.connect() as conn:
            return [self._row_to_record(r) for r in conn.execute(query)]

    def unfinished_runs(self) -> list[RunRecord]:
        query = sa.select(self.runs).where(self.runs.c.status.in_([RunStatus.QUEUED.value, RunStatus.RUNNING.value]))
        with self.engine.connect() as conn:
            return [self._row_to_record(r) for r in conn.execute(query)]

    def clear_run_details(self, run_id: str) -> None:
        """Forget what a failed attempt recorded, before the retry records it again."""
        with self.engine.begin() as conn:
            conn.execute(self.rules_table.delete().where(self.rules_table.c.run_id == run_id))
            conn.execute(self.quarantine_table.delete().where(self.quarantine_table.c.run_id == run_id))

    # -- logs
    def add_logs(self, lines: Sequence[RunLogLine]) -> None:
        if not lines:
            return
        with self.engine.begin() as conn:
            conn.execute(
                self.log_table.insert(),
                [{"run_id": l.run_id, "pipeline": l.pipeline, "time": l.time, "level": l.level, "message": l.message} for l in lines],
            )

    def logs(self, run_id: str) -> list[RunLogLine]:
        t = self.log_table
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.run_id == run_id).order_by(t.c.id)).all()
        return [RunLogLine(r.run_id, r.pipeline, _utc(r.time), r.level, r.message) for r in rows]  # type: ignore[arg-type]

    # -- rule results
    def save_rule_results(self, results: Sequence[RuleResult]) -> None:
        if not results:
            return
        with self.engine.begin() as conn:
            conn.execute(
                self.rules_table.insert(),
                [{"run_id": r.run_id, "rule": r.rule, "kind": r.kind, "severity": r.severity, "action": r.action,
                  "rows_checked": r.rows_checked, "rows_failed": r.rows_failed,
                  "samples": json.dumps(r.samples, ensure_ascii=False), "run_level_failure": r.run_level_failure}
                 for r in results],
            )

    def rule_results(self, run_id: str) -> list[RuleResult]:
        t = self.rules_table
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.run_id == run_id).order_by(t.c.id)).all()
        return [RuleResult(r.run_id, r.rule, r.kind, r.severity, r.action, r.rows_checked, r.rows_failed,
                           json.loads(r.samples or "[]"), r.run_level_failure) for r in rows]

    # -- quarantine
    def add_quarantined(self, run_id: str, pipeline: str, rows: pd.DataFrame) -> None:
        if rows.empty:
            return
        frame = quarantine_frame(rows)
        n = len(frame)
        by_column = {"run_id": [run_id] * n, "pipeline": [pipeline] * n, **{c: frame[c].tolist() for c in QUARANTINE_COLUMNS}}
        by_column["row"] = [int(r) for r in by_column["row"]]
        # One executemany of plain tuples: SQLAlchemy's per-row parameter handling cost more than the insert.
        dialect = self.engine.dialect
        insert = self.quarantine_table.insert().compile(dialect=dialect, column_keys=list(by_column))
        if dialect.positional:
            params: list[Any] = list(zip(*(by_column[name] for name in insert.positiontup or ()), strict=True))
        else:
            params = [dict(zip(by_column, rec, strict=True)) for rec in zip(*by_column.values(), strict=True)]
        with self.engine.begin() as conn:
            conn.exec_driver_sql(insert.string, params)

    def quarantined(self, run_id: str, limit: int = 1000) -> pd.DataFrame:
        t = self.quarantine_table
        query = sa.select(t.c.row, t.c.rule, t.c.reason, t.c["values"]).where(t.c.run_id == run_id).order_by(t.c.id).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return pd.DataFrame([tuple(r) for r in rows], columns=QUARANTINE_COLUMNS)

    def dispose(self) -> None:
        self.engine.dispose()


_CREATE_LOCK = threading.Lock()
_CREATE_ATTEMPTS = 10


def create_tables(metadata: sa.MetaData, engine: sa.Engine) -> None:
    """create_all, tolerating other threads and processes creating the same tables at the same moment.

    Threads of this process take turns; another process may still win a table's race, in
    which case checking again finds the table ("table runs already exists").
    """
    with _CREATE_LOCK:
        for attempt in range(_CREATE_ATTEMPTS):
            try:
                metadata.create_all(engine)
                return
            except sa.exc.OperationalError as exc:
                if "already exists" not in str(exc) or attempt == _CREATE_ATTEMPTS - 1:
                    raise


def default_state_url(project_dir: Path) -> str:
    folder = project_dir / STATE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / STATE_FILE).resolve()}"


def open_run_store(state_database: str | None, project_dir: Path) -> SqlRunStore:
    """The project's state database (``Project.state_database``, or SQLite in .etl_studio/)."""
    if state_database:
        from etl_studio.core.context import resolve_secret

        return SqlRunStore(resolve_secret(state_database))
    return SqlRunStore(default_state_url(project_dir))
