"""Benchmark (not a test): run a 1,000,000-row pipeline from the GUI and report the longest event-loop stall.

A QTimer ticks every 10 ms on the GUI thread while the run goes on in its worker; the
longest gap between two ticks is how long the window could not repaint or react. Goal:
under 100 ms.

    python tests/benchmarks/gui_heartbeat.py [--rows 1000000] [--chunk-size 50000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

GOAL_MS = 100.0
TICK_MS = 10


def write_orders_csv(path: Path, rows: int) -> None:
    """An orders export: ids, dates, text codes, decimal prices, a few blanks."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(7)
    ids = np.arange(1, rows + 1)
    table = pa.table({
        "order_id": ids,
        "order_date": pa.array((np.datetime64("2024-01-01") + rng.integers(0, 365, rows)).astype(str)),
        "customer": pa.array([f"C{n:05d}" for n in rng.integers(1, 20000, rows)]),
        "email": pa.array([f"user{n}@example.com" if n % 50 else "" for n in ids]),
        "quantity": rng.integers(1, 20, rows),
        "unit_price": pa.array([f"{p:.2f}" for p in rng.uniform(1, 500, rows)]),
    })
    pacsv.write_csv(table, path)


def make_project(folder: Path, rows: int, chunk_size: int | None) -> Path:
    from etl_studio.core.project import Connection, Pipeline, PluginSpec, Project, RuleSpec, TargetColumn, save_project

    write_orders_csv(folder / "orders.csv", rows)
    project = Project(
        name="Heartbeat benchmark",
        connections=[Connection(name="dw", url="sqlite:///dw.db")],
        pipelines=[Pipeline(
            name="orders",
            source=PluginSpec(kind="csv_file", config={"path": "orders.csv"}),
            mapping=[
                TargetColumn(name="order_id", type="integer", nullable=False, source="order_id"),
                TargetColumn(name="order_date", type="date", source="order_date"),
                TargetColumn(name="customer", source="customer"),
                TargetColumn(name="email", expr="lower(trim(email))"),
                TargetColumn(name="quantity", type="integer", source="quantity"),
                TargetColumn(name="unit_price", type="decimal(10,2)", source="unit_price"),
                TargetColumn(name="total", type="decimal(12,2)", expr="quantity * unit_price"),
            ],
            rules=[RuleSpec(kind="not_null", name="has id", config={"column": "order_id"})],
            target=PluginSpec(kind="sql_table", config={"connection": "dw", "table": "orders", "mode": "replace"}),
            chunk_size=chunk_size,
        )],
    )
    path = folder / "bench.etlproj"
    save_project(project, path)
    return path


class Heartbeat:
    """Records the gaps between ticks of a GUI-thread timer."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now - self._last) * 1000)
        self._last = now

    def start(self) -> None:
        self.gaps.clear()
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()


def run(rows: int, chunk_size: int | None, keep: Path | None) -> int:
    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from etl_studio.app import build_window

    folder = keep or Path(tempfile.mkdtemp(prefix="etl-heartbeat-"))
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    project_path = make_project(folder, rows, chunk_size)
    print(f"wrote {rows:,} rows to {folder / 'orders.csv'} in {time.perf_counter() - started:.1f} s")

    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    window = build_window(project_path, settings, remember=False)
    window.resize(1400, 900)
    window.show()
    window.select_pipeline("orders")

    loop = QEventLoop()
    QTimer.singleShot(1500, loop.quit)  # let the first preview and validation settle
    loop.exec()

    heartbeat = Heartbeat()
    progress_events = 0
    result: dict[str, object] = {}

    def on_event(event: object) -> None:
        nonlocal progress_events
        if type(event).__name__ == "RunProgress":
            progress_events += 1

    def on_finished(_name: str, record: object) -> None:
        result["record"] = record
        loop.quit()

    window.run_controller.event.connect(on_event)
    window.run_controller.runFinished.connect(on_finished)
    heartbeat.start()
    run_started = time.perf_counter()
    window.run_action.trigger()
    loop.exec()
    run_seconds = time.perf_counter() - run_started
    heartbeat.stop()

    record = result["record"]
    gaps = sorted(heartbeat.gaps)
    longest = gaps[-1] if gaps else float("nan")
    p99 = gaps[int(len(gaps) * 0.99) - 1] if len(gaps) >= 100 else longest
    print(f"run: {record.status.value}, {record.rows_loaded:,} rows loaded in {run_seconds:.1f} s "  # type: ignore[attr-defined]
          f"({progress_events} progress events)")
    if getattr(record, "error", None):
        print(f"error: {record.error}")  # type: ignore[attr-defined]
    print(f"heartbeat: {len(gaps)} ticks of {TICK_MS} ms; median gap {statistics.median(gaps):.1f} ms, "
          f"p99 {p99:.1f} ms, longest stall {longest:.1f} ms")
    print(f"goal: longest stall under {GOAL_MS:.0f} ms -> {'met' if longest < GOAL_MS else 'NOT met'}")
    window.ask_save_changes = lambda: "discard"  # type: ignore[method-assign]
    window.close()
    return 0 if longest < GOAL_MS and record.status.value == "succeeded" else 1  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-size", type=int, default=None, help="the pipeline's chunk size (default: the engine's)")
    parser.add_argument("--keep", type=Path, default=None, help="write the project and data here and keep them")
    args = parser.parse_args(argv)
    from etl_studio.app import _application

    _application()
    return run(args.rows, args.chunk_size, args.keep)


if __name__ == "__main__":
    sys.exit(main())
