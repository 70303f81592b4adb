"""`etl-studio serve | schedule | backfill`: run a project's schedules headless, list fire times, backfill windows."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
RELOAD_CHECK_SECONDS = 1.0


def _load(path: str) -> tuple[Any, Path]:
    from etl_studio.core.project import load_project

    project_path = Path(path)
    return load_project(project_path), project_path.resolve().parent


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: Any) -> None:
        print(f"{signal.Signals(signum).name}: stopping", flush=True)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


# -- serve ------------------------------------------------------------------------------------

def cmd_serve(args: argparse.Namespace) -> int:
    from etl_studio.core.errors import ProjectFileError
    from etl_studio.core.project import load_project
    from etl_studio.core.scheduling import SchedulerLocked, SchedulerService
    from etl_studio.core.scheduling.triggers import describe

    project, project_dir = _load(args.project)
    project_file = Path(args.project).resolve()
    handler = logging.StreamHandler(sys.stdout)
    handler.setLevel(logging.DEBUG if args.debug else logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    for other in list(root.handlers):
        # The service logs to stdout only: one stream, each line once.
        if isinstance(other, logging.StreamHandler) and getattr(other, "stream", None) is sys.stderr:
            root.removeHandler(other)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    # APScheduler says "Running job ..." for every fire and warns of each skipped one;
    # the service logs both in the analyst's words.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)

    service = SchedulerService(project, project_dir, owner="serve", max_workers=args.workers)
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        service.start()
    except SchedulerLocked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    try:
        names = service.scheduled_pipelines()
        print(f"serving {len(names)} schedule(s) of '{project.name}' ({project_file.name}); pid {service.lock.holder().pid if service.lock.holder() else '?'}; "
              f"SIGTERM or Ctrl+C stops{' and cancels running runs' if args.cancel_on_stop else ' after running runs finish'}", flush=True)
        for name in names:
            schedule = project.pipeline(name).schedule
            next_run = service.next_run_time(name)
            print(f"  {name}: {describe(schedule)}; next run {next_run.astimezone().isoformat(sep=' ', timespec='seconds') if next_run else '-'}", flush=True)
        mtime = _mtime(project_file)
        while not stop.wait(RELOAD_CHECK_SECONDS):
            current = _mtime(project_file)
            if current != mtime:
                mtime = current
                try:
                    service.reload(load_project(project_file))
                except ProjectFileError as exc:
                    logging.getLogger("etl_studio.scheduler").error("the changed project file is not valid; keeping the schedules as they were:\n%s", exc)
    finally:
        service.stop(cancel_running=args.cancel_on_stop)
    print("stopped", flush=True)
    return EXIT_OK


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


# -- schedule ---------------------------------------------------------------------------------

def cmd_schedule(args: argparse.Namespace) -> int:
    from etl_studio.core.errors import InvalidInputError
    from etl_studio.core.scheduling.triggers import describe, next_fire_times

    project, _project_dir = _load(args.project)
    if not project.pipelines:
        print("(no pipelines)")
        return EXIT_OK
    exit_code = EXIT_OK
    for pipeline in project.pipelines:
        schedule = pipeline.schedule
        after = f"; runs after {', '.join(pipeline.depends_on)} succeeds" if pipeline.depends_on else ""
        if schedule is None:
            print(f"{pipeline.name}: not scheduled{after}")
            continue
        print(f"{pipeline.name}: {describe(schedule)}{after}")
        if not schedule.enabled:
            continue
        try:
            times = next_fire_times(schedule, args.count)
        except InvalidInputError as exc:
            print(f"  error: {exc}")
            exit_code = EXIT_INVALID
            continue
        if not times:
            print("  no more fire times (a one-off date in the past)")
        for moment in times:
            print(f"  {moment.strftime('%Y-%m-%d %H:%M:%S %Z')}  ({moment.strftime('%a')})")
    return exit_code


# -- backfill ---------------------------------------------------------------------------------

def cmd_backfill(args: argparse.Namespace) -> int:
    from etl_studio.core.engine.events import RunLogLine
    from etl_studio.core.history import open_run_store
    from etl_studio.core.scheduling.backfill import WindowOutcome, backfill, parse_bound, parse_step, plan_windows

    project, project_dir = _load(args.project)
    project.pipeline(args.pipeline)
    from etl_studio.core.errors import InvalidInputError

    start, end = parse_bound(args.from_, end=False), parse_bound(args.to, end=True)
    if end <= start:
        raise InvalidInputError(f"--to {args.to} is before --from {args.from_}")
    windows = plan_windows(start, end, parse_step(args.step))
    store = open_run_store(project.state_database, project_dir)
    cancel = threading.Event()
    _stop_on_signals(cancel)
    print(f"backfill of '{args.pipeline}': {len(windows)} window(s) from {windows[0].window_start.isoformat(sep=' ')} "
          f"to {windows[-1].window_end.isoformat(sep=' ')}", flush=True)

    def report(event: object) -> None:
        if args.verbose_runs and isinstance(event, RunLogLine) and event.level in ("INFO", "WARNING", "ERROR"):
            print(f"    {event.message}", flush=True)

    def on_window(outcome: WindowOutcome, index: int, total: int) -> None:
        w = outcome.window
        span = f"[{w.window_start.isoformat(sep=' ')}, {w.window_end.isoformat(sep=' ')})"
        if outcome.status == "skipped":
            print(f"{index}/{total} {span}: already done (execution {outcome.execution_id[:12]}), skipped", flush=True)
        elif outcome.record is not None and outcome.status == "succeeded":
            r = outcome.record
            print(f"{index}/{total} {span}: succeeded — {r.rows_read:,} read, {r.rows_loaded:,} loaded (run {r.run_id[:8]})", flush=True)
        else:
            error = outcome.record.error if outcome.record else ""
            print(f"{index}/{total} {span}: {outcome.status} — {error}", file=sys.stderr, flush=True)

    try:
        outcomes = backfill(project, args.pipeline, windows, project_dir=project_dir, store=store, report=report, cancel=cancel, on_window=on_window)
    finally:
        store.dispose()
    done = [o for o in outcomes if o.status in ("skipped", "succeeded")]
    if len(done) == len(windows):
        ran = sum(1 for o in outcomes if o.status == "succeeded")
        print(f"done: {len(windows)} window(s), {ran} run now, {len(windows) - ran} done before")
        return EXIT_OK
    print(f"stopped after {len(done)} of {len(windows)} window(s); run the same command again to resume", file=sys.stderr)
    return EXIT_FAILED


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("serve", help="run the project's schedules headless until SIGTERM/Ctrl+C (no screen needed)")
    p.add_argument("project")
    p.add_argument("--cancel-on-stop", action="store_true", help="on SIGTERM/SIGINT cancel running runs (they roll back) instead of waiting for them")
    p.add_argument("--workers", type=int, default=4, help="pipelines that may run at the same time (default 4)")
    p.set_defaults(func=cmd_serve)

    p = subparsers.add_parser("schedule", help="list each pipeline's schedule and its next fire times")
    p.add_argument("project")
    p.add_argument("--count", type=int, default=5, help="fire times to show per pipeline (default 5)")
    p.set_defaults(func=cmd_schedule)

    p = subparsers.add_parser("backfill", help="run a pipeline over past windows in order; completed windows are skipped, so it resumes")
    p.add_argument("project")
    p.add_argument("--pipeline", "-p", required=True)
    p.add_argument("--from", dest="from_", required=True, metavar="DATE", help="first day (YYYY-MM-DD or YYYY-MM-DDTHH:MM)")
    p.add_argument("--to", required=True, metavar="DATE", help="last day, included (or an exact end time)")
    p.add_argument("--step", default="1d", help="window length: 1d (default), 6h, 15min, 1w")
    p.add_argument("--verbose-runs", action="store_true", help="print each run's log lines")
    p.set_defaults(func=cmd_backfill)
