"""Whole pipelines end to end: the demo project on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from etl_studio.core.connections import ConnectionPool
from etl_studio.core.engine.events import RunFinished, RunLogLine, RunProgress, RunStarted
from etl_studio.core.engine.runner import run_pipeline
from etl_studio.core.history import RunStatus, open_run_store
from etl_studio.core.project import load_project, save_project
from tests.helpers import copy_demo


def target_frame(project_path: Path, table: str) -> pd.DataFrame:
    project = load_project(project_path)
    pool = ConnectionPool(project, project_path.parent)
    try:
        with pool.engine("warehouse").connect() as conn:
            quoted = pool.engine("warehouse").dialect.identifier_preparer.quote(table)
            frame = pd.read_sql(sa.text("select * from " + quoted), conn)
    finally:
        pool.dispose()
    return frame.sort_values(list(frame.columns[:1])).reset_index(drop=True)


def run_both(project_path: Path, **kwargs):
    project = load_project(project_path)
    records = [run_pipeline(project, name, project_dir=project_path.parent, **kwargs) for name in ("customers", "orders")]
    return records


def test_the_demo_loads_clean_rows_and_quarantines_the_bad_ones(tmp_path: Path) -> None:
    path = copy_demo(tmp_path)
    events: list[object] = []
    customers, orders = run_both(path, report=events.append)
    assert customers.status is RunStatus.SUCCEEDED, customers.error
    assert orders.status is RunStatus.SUCCEEDED, orders.error
    assert orders.rows_read == 514
    assert orders.rows_quarantined > 0
    frame = target_frame(path, "orders")
    assert len(frame) == orders.rows_loaded
    # exact duplicates removed, every order once
    assert frame["order_id"].is_unique
    # the decimal case from the design: 17 x 459.90 x 0.95 = 7427.385 -> 7427.39 (float gives 7427.38)
    row = frame[(frame["quantity"] == 17) & (frame["unit_price"].astype(str) == "459.9") | (frame["quantity"] == 17) & (frame["unit_price"].astype(str) == "459.90")]
    assert not row.empty
    assert Decimal(str(row["order_total"].iloc[0])) == Decimal("7427.39")
    # trimmed and lower-cased e-mails; invalid ones quarantined, not loaded
    emails = frame["customer_email"].dropna()
    assert (emails == emails.str.strip().str.lower()).all()
    assert emails.str.contains("@").all()
    assert not (frame["customer_id"] == 999).any()  # unknown customer quarantined
    store = open_run_store(None, path.parent)
    quarantined = store.quarantined(orders.run_id)
    assert len(quarantined) == orders.rows_quarantined
    assert set(quarantined["rule"]) >= {"valid e-mail", "known customer", "mapping"}
    assert quarantined["reason"].str.len().min() > 5
    results = {r.rule: r for r in store.rule_results(orders.run_id)}
    assert results["valid e-mail"].rows_failed > 0 and results["valid e-mail"].samples
    assert results["country given"].rows_failed > 0  # a warning: counted, rows still loaded
    # rows missing a country still load (some of them fail an error rule too and are quarantined for that)
    assert 0 < frame["country"].isna().sum() <= results["country given"].rows_failed
    kinds = {type(e) for e in events}
    assert {RunStarted, RunProgress, RunLogLine, RunFinished} <= kinds
    assert [r.status for r in store.list_runs()] == [RunStatus.SUCCEEDED, RunStatus.SUCCEEDED]
    assert any("run finished" in line.message for line in store.logs(orders.run_id))


def test_running_twice_leaves_exactly_the_same_rows(tmp_path: Path) -> None:
    path = copy_demo(tmp_path)
    run_both(path)
    first = {t: target_frame(path, t) for t in ("customers", "orders")}
    records = run_both(path)
    assert all(r.status is RunStatus.SUCCEEDED for r in records)
    for table, frame in first.items():
        pd.testing.assert_frame_equal(target_frame(path, table), frame)


@pytest.mark.parametrize("server", ["postgresql", "mysql"])
def test_the_demo_runs_on_real_servers(tmp_path: Path, server: str, request: pytest.FixtureRequest, table_name: str) -> None:
    url = request.getfixturevalue("postgres_url" if server == "postgresql" else "mysql_url")
    path = copy_demo(tmp_path, url=url, suffix="_" + table_name)
    try:
        customers, orders = run_both(path)
        assert customers.status is RunStatus.SUCCEEDED, customers.error
        assert orders.status is RunStatus.SUCCEEDED, orders.error
        frame = target_frame(path, "orders_" + table_name)
        assert len(frame) == orders.rows_loaded > 400
        total = frame.loc[frame["order_id"] == frame.loc[(frame["quantity"] == 17) & (frame["unit_price"].astype(float) == 459.9), "order_id"].iloc[0], "order_total"].iloc[0]
        assert Decimal(str(total)) == Decimal("7427.39")
        again = run_both(path)[1]
        assert again.status is RunStatus.SUCCEEDED
        pd.testing.assert_frame_equal(target_frame(path, "orders_" + table_name), frame)
    finally:
        project = load_project(path)
        pool = ConnectionPool(project, path.parent)
        with pool.engine("warehouse").begin() as conn:
            for table in ("orders_" + table_name, "customers_" + table_name):
                conn.execute(sa.text("drop table if exists " + pool.engine("warehouse").dialect.identifier_preparer.quote(table)))
        pool.dispose()


def test_a_failing_rule_with_action_fail_loads_nothing(tmp_path: Path) -> None:
    path = copy_demo(tmp_path)
    run_both(path)
    before = target_frame(path, "orders")
    project = load_project(path)
    orders = project.pipeline("orders")
    rules = [r.model_copy(update={"action": "fail"}) if r.name == "valid e-mail" else r for r in orders.rules]
    project = project.model_copy(update={"pipelines": [project.pipeline("customers"), orders.model_copy(update={"rules": rules})]})
    record = run_pipeline(project, "orders", project_dir=path.parent)
    assert record.status is RunStatus.FAILED
    assert "valid e-mail" in record.error and "nothing was loaded" in record.error
    pd.testing.assert_frame_equal(target_frame(path, "orders"), before)


def test_cancelling_between_chunks_leaves_the_target_as_it_was(tmp_path: Path) -> None:
    path = copy_demo(tmp_path)
    run_both(path)
    before = target_frame(path, "orders")
    project = load_project(path)
    orders = project.pipeline("orders").model_copy(update={"chunk_size": 50})
    project = project.model_copy(update={"pipelines": [project.pipeline("customers"), orders]})
    cancel = threading.Event()
    seen: list[int] = []

    def report(event: object) -> None:
        if isinstance(event, RunProgress):
            seen.append(event.rows_done)
            cancel.set()  # the user presses Stop after the first chunk

    record = run_pipeline(project, "orders", project_dir=path.parent, cancel=cancel, report=report)
    assert record.status is RunStatus.CANCELLED
    assert seen and seen[0] < 514
    pd.testing.assert_frame_equal(target_frame(path, "orders"), before)


def test_the_run_record_says_why_a_bad_mapping_failed(tmp_path: Path) -> None:
    path = copy_demo(tmp_path)
    project = load_project(path)
    customers = project.pipeline("customers")
    mapping = [c.model_copy(update={"source": "emial"}) if c.name == "country" else c for c in customers.mapping]
    project = project.model_copy(update={"pipelines": [customers.model_copy(update={"mapping": mapping})]})
    record = run_pipeline(project, "customers", project_dir=path.parent)
    assert record.status is RunStatus.FAILED
    assert record.error_kind == "invalid_input"
    assert "unknown column 'emial'" in record.error


def test_a_run_over_its_timeout_is_stopped_and_recorded_as_timed_out(tmp_path: Path) -> None:
    path = copy_demo(tmp_path)
    run_both(path)
    before = target_frame(path, "orders")
    project = load_project(path)
    orders = project.pipeline("orders").model_copy(update={"chunk_size": 20})
    project = project.model_copy(update={"pipelines": [project.pipeline("customers"), orders]})
    started = threading.Event()
    cancel = threading.Event()

    def report(event: object) -> None:
        if isinstance(event, RunProgress):
            started.set()
            assert cancel.wait(10)  # a slow chunk: held until the timeout fires

    record = run_pipeline(project, "orders", project_dir=path.parent, report=report, cancel=cancel, timeout_seconds=0.3)
    assert started.is_set()
    assert record.status is RunStatus.FAILED and record.error_kind == "timeout"
    assert "timed out after 0.3 s" in record.error
    pd.testing.assert_frame_equal(target_frame(path, "orders"), before)
