"""`etl-studio watermark` (show, set or reset a pipeline's watermark) and `etl-studio plan` (what a load would do, committing nothing)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def _load(path: str) -> tuple[Any, Path]:
    from etl_studio.core.project import load_project

    project_path = Path(path)
    return load_project(project_path), project_path.resolve().parent


def _pipeline_name(project: Any, name: str | None) -> str:
    from etl_studio.core.errors import InvalidInputError

    if name:
        return project.pipeline(name).name
    if len(project.pipelines) == 1:
        return project.pipelines[0].name
    raise InvalidInputError("name the pipeline with --pipeline (pipelines: " + ", ".join(p.name for p in project.pipelines) + ")")


def cmd_watermark(args: argparse.Namespace) -> int:
    from etl_studio.core.engine.incremental import format_watermark, parse_watermark
    from etl_studio.core.engine.reconcile import reconcile_runs
    from etl_studio.core.errors import InvalidInputError
    from etl_studio.core.history import open_run_store
    from etl_studio.core.history.watermarks import watermark_store_for

    project, project_dir = _load(args.project)
    pipeline = project.pipeline(_pipeline_name(project, args.pipeline))
    incremental = pipeline.incremental
    if incremental is None:
        raise InvalidInputError(f"pipeline '{pipeline.name}' is not incremental: it reads every row on every run, so it has no watermark")
    store = open_run_store(project.state_database, project_dir)
    try:
        # A run that died after its commit still owns the newest watermark: settle it first.
        reconcile_runs(project, project_dir, store)
        marks = watermark_store_for(store)
        current = marks.get(pipeline.name)
        was = current.value if current else "none"
        start = f"from {incremental.initial_value}" if incremental.initial_value else "every row"
        if args.set is not None:
            value = format_watermark(incremental.kind, parse_watermark(incremental.kind, args.set))
            marks.set(pipeline.name, value)
            print(f"{pipeline.name}: watermark set to {value} (was {was}); the next run reads rows with {incremental.column} > {value}")
        elif args.reset:
            marks.reset(pipeline.name)
            print(f"{pipeline.name}: watermark reset (was {was}); the next run reads {start}")
        elif current is None:
            print(f"{pipeline.name}: no watermark yet ({incremental.column}, {incremental.kind}); the next run reads {start}")
        else:
            by = f"run {current.run_id[:8]}" if current.run_id else "hand"
            when = current.updated_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            print(f"{pipeline.name}: watermark {current.value} ({incremental.column}, {incremental.kind}), set by {by} at {when}")
    finally:
        store.dispose()
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    import pandas as pd

    from etl_studio.core.engine.plan import PLAN_KINDS, plan_pipeline

    project, project_dir = _load(args.project)
    name = _pipeline_name(project, args.pipeline)
    plan = plan_pipeline(project, name, project_dir=project_dir)
    print(f"{name}: {plan.rows_read:,} row(s) read; the load would do: {plan.summary()} (nothing was committed)")
    if plan.window:
        moved = f"; the watermark would move {plan.watermark_from or 'none'} -> {plan.watermark_to or 'none'}"
        print(f"  incremental: {plan.window}{moved}")
    for note in plan.notes:
        print(f"  note: {note}")
    for kind in PLAN_KINDS + tuple(k for k in plan.samples if k not in PLAN_KINDS):
        sample = plan.samples.get(kind)
        if sample is None or sample.empty:
            continue
        print(f"\n{kind} (sample of {min(len(sample), args.rows)}):")
        with pd.option_context("display.max_columns", None, "display.width", 200, "display.max_colwidth", 40):
            print(sample.head(args.rows).to_string(index=False))
    if args.sql and plan.sql:
        print("\nSQL:\n" + plan.sql)
    sys.stdout.flush()
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("watermark", help="show, set or reset an incremental pipeline's watermark")
    p.add_argument("project")
    p.add_argument("--pipeline", "-p")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--reset", action="store_true", help="forget the watermark: the next run reads everything (or from the start value)")
    group.add_argument("--set", metavar="VALUE", help="set the watermark, e.g. 2024-01-31T00:00:00 or 1000")
    p.set_defaults(func=cmd_watermark)

    p = subparsers.add_parser("plan", help="what a run's load would do (insert, update, expire, delete ...); commits nothing")
    p.add_argument("project")
    p.add_argument("--pipeline", "-p")
    p.add_argument("--rows", type=int, default=5, help="sample rows shown per kind")
    p.add_argument("--sql", action="store_true", help="also print the SQL the load runs")
    p.set_defaults(func=cmd_plan)
