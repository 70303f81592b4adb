"""`etl-studio cdc PROJECT --pipeline NAME create-slot|drop-slot|status`: the replication slot of a CDC pipeline."""

from __future__ import annotations

import argparse
from pathlib import Path

EXIT_OK = 0


def cmd_cdc(args: argparse.Namespace) -> int:
    from etl_studio.core.cdc.pipelines import cdc_source, choose_pipeline
    from etl_studio.core.project import load_project

    project_path = Path(args.project)
    project = load_project(project_path)
    name = choose_pipeline(project, args.pipeline)
    with cdc_source(project, name, project_path.resolve().parent) as source:
        slot = source.config.slot
        if args.action == "create-slot":
            status = source.create_slot()
            print(f"{name}: created replication slot {slot} at {status.confirmed_lsn}; changes committed from now on are captured")
        elif args.action == "drop-slot":
            source.drop_slot()
            print(f"{name}: dropped replication slot {slot}; the server no longer keeps WAL for it")
        else:
            status = source.slot_status()
            if status is None:
                print(f"{name}: replication slot {slot} does not exist (create it with: etl-studio cdc {args.project} --pipeline {name} create-slot)")
            else:
                print(f"{name}: {status.describe()}")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("cdc", help="create, drop or show the replication slot of a change data capture pipeline")
    p.add_argument("project")
    p.add_argument("--pipeline", "-p", help="the pipeline whose source reads the slot; default: the only such pipeline")
    p.add_argument("action", choices=["create-slot", "drop-slot", "status"], help="what to do with the slot")
    p.set_defaults(func=cmd_cdc)
