"""Where one run spends its time and memory: a pipeline run in-process under cProfile, with an RSS trace.

    python tests/benchmarks/profile_run.py PROJECT --pipeline clean [--top 30] [--out run.prof]

Prints the RSS after imports, at each progress report (one per chunk) and at the end, then the
functions with the most cumulative and own time. Run it on a project written by run.py
(<workdir>/project_<rows>/bench_<rows>.etlproj; pass --keep to run.py to keep it).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import threading
import time
from pathlib import Path


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakRss(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0.0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, rss_mb())
            self._halt.wait(0.01)

    def stop(self) -> float:
        self._halt.set()
        self.join()
        return self.peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("--pipeline", "-p", required=True)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--out", type=Path, help="also save the profile here (for snakeviz, pstats ...)")
    parser.add_argument("--no-profile", action="store_true", help="only the RSS trace and stage times (cProfile slows the run)")
    args = parser.parse_args()

    started = time.perf_counter()
    from etl_studio.core import plugins
    from etl_studio.core.engine.events import RunProgress
    from etl_studio.core.engine.runner import run_pipeline
    from etl_studio.core.project import load_project

    plugins.load_builtin_plugins()
    print(f"imports: {time.perf_counter() - started:.2f} s, RSS {rss_mb():.0f} MB")
    project = load_project(args.project)
    trace: list[tuple[float, int, float]] = []
    t0 = time.perf_counter()

    def report(event: object) -> None:
        if isinstance(event, RunProgress):
            trace.append((time.perf_counter() - t0, event.rows_done, rss_mb()))

    peak = PeakRss()
    peak.start()
    profiler = None if args.no_profile else cProfile.Profile()
    if profiler:
        profiler.enable()
    record = run_pipeline(project, args.pipeline, project_dir=args.project.resolve().parent, report=report, trigger="profile")
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - t0
    print(f"run: {record.status.value} in {seconds:.2f} s{' (under cProfile)' if profiler else ''}; {record.rows_read:,} read, "
          f"{record.rows_quarantined:,} quarantined, {record.rows_loaded:,} loaded; peak RSS {peak.stop():.0f} MB, now {rss_mb():.0f} MB")
    if record.error:
        print("error:", record.error)
    shown = trace if len(trace) <= 8 else trace[:4] + [None] + trace[-3:]
    for point in shown:
        print("  ..." if point is None else f"  {point[0]:7.2f} s  {point[1]:>10,} rows  RSS {point[2]:6.0f} MB")
    if profiler:
        if args.out:
            profiler.dump_stats(str(args.out))
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
