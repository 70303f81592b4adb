"""Engine calls the editors make in worker threads: source columns, table lists, format detection, load plans."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from etl_studio.core import plugins
from etl_studio.core.connections import ConnectionPool
from etl_studio.core.context import RunContext
from etl_studio.core.project.models import Project
from etl_studio.core.sources.base import SourceColumn


def _context(project: Project, project_dir: Path) -> RunContext:
    return RunContext(project_dir=project_dir, connections=ConnectionPool(project, project_dir), preview=True)


def read_source_columns(project: Project, pipeline_name: str, project_dir: Path) -> list[SourceColumn]:
    """The pipeline source's columns with inferred types and a few samples."""
    plugins.load_builtin_plugins()
    spec = project.pipeline(pipeline_name).source
    context = _context(project, project_dir)
    try:
        source = plugins.sources.get(spec.kind).from_spec(spec.config, context)
        return source.columns()  # type: ignore[attr-defined]
    finally:
        context.connections.dispose()


def list_connection_tables(project: Project, connection: str, project_dir: Path) -> list[str]:
    from etl_studio.core.sources.sql_table import list_tables

    pool = ConnectionPool(project, project_dir)
    try:
        return list_tables(pool.engine(connection))
    finally:
        pool.dispose()


def detect_file_format(path: Path) -> tuple[str, str, bool]:
    from etl_studio.core.sources.inference import detect_csv_format

    return detect_csv_format(path)


def step_input_columns(project: Project, pipeline_name: str, project_dir: Path, source_columns: list[str]) -> list[list[str]]:
    """For each step, the column names that reach it (then one more entry: what leaves the last
    step). A step that cannot say (bad config) passes its input on unchanged."""
    plugins.load_builtin_plugins()
    pipeline = project.pipeline(pipeline_name)
    context = RunContext(project_dir=project_dir, connections=None, preview=True)
    columns = list(source_columns)
    result = [columns]
    for spec in pipeline.steps:
        if spec.enabled and spec.kind in plugins.steps:
            try:
                columns = plugins.steps.get(spec.kind).from_spec(spec.config, context).output_columns(columns)  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - the Problems panel reports the step's error
                pass
        result.append(list(columns))
    return result


@dataclass(frozen=True)
class LoadPlan:
    description: str
    differences: list[str]


def describe_target(project: Project, pipeline_name: str, project_dir: Path) -> LoadPlan:
    """What the load will run (DDL, kind of statement) and how the table differs from the mapping."""
    plugins.load_builtin_plugins()
    pipeline = project.pipeline(pipeline_name)
    context = _context(project, project_dir)
    try:
        target = plugins.targets.get(pipeline.target.kind).from_spec(pipeline.target.config, context)
        description = target.describe_load(list(pipeline.mapping))  # type: ignore[attr-defined]
        try:
            differences = target.schema_differences(list(pipeline.mapping)) if pipeline.mapping else []  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - an unreachable database is said, not raised
            differences = [f"cannot compare with the existing table: {str(exc).splitlines()[0]}"]
        return LoadPlan(description, differences)
    finally:
        context.connections.dispose()


# -- incremental loads: the watermark in the state database -------------------------------------

def _watermarks(project: Project, project_dir: Path) -> tuple[object, object]:
    from etl_studio.core.history import open_run_store
    from etl_studio.core.history.watermarks import watermark_store_for

    store = open_run_store(project.state_database, project_dir)
    return store, watermark_store_for(store)


def read_watermark(project: Project, pipeline_name: str, project_dir: Path) -> object:
    """The pipeline's committed Watermark, or None when no run has set one yet."""
    store, marks = _watermarks(project, project_dir)
    try:
        return marks.get(pipeline_name)  # type: ignore[attr-defined]
    finally:
        store.dispose()  # type: ignore[attr-defined]


def reset_watermark(project: Project, pipeline_name: str, project_dir: Path) -> None:
    store, marks = _watermarks(project, project_dir)
    try:
        marks.reset(pipeline_name)  # type: ignore[attr-defined]
    finally:
        store.dispose()  # type: ignore[attr-defined]


def set_watermark(project: Project, pipeline_name: str, project_dir: Path, kind: str, text: str) -> object:
    """Store ``text`` (checked and normalised as the command line does) as the watermark."""
    from etl_studio.core.engine.incremental import format_watermark, parse_watermark

    value = format_watermark(kind, parse_watermark(kind, text))  # type: ignore[arg-type]
    store, marks = _watermarks(project, project_dir)
    try:
        return marks.set(pipeline_name, value)  # type: ignore[attr-defined]
    finally:
        store.dispose()  # type: ignore[attr-defined]


# -- change data capture: the replication slot of a pg_cdc source -----------------------------

@dataclass(frozen=True)
class SlotState:
    slot: str
    status: object | None  # SlotStatus, or None when the slot does not exist
    problem: str | None = None  # e.g. the wal_level message: why a slot cannot be created here


def cdc_slot_state(project: Project, pipeline_name: str, project_dir: Path) -> SlotState:
    from etl_studio.core.cdc.pipelines import cdc_source
    from etl_studio.core.cdc.slots import check_wal_level
    from etl_studio.core.errors import ConfigError

    with cdc_source(project, pipeline_name, project_dir) as source:
        status = source.slot_status()
        problem = None
        if status is None:
            # Said before the analyst clicks Create slot, which would fail for this reason.
            with source.engine().connect() as conn:
                try:
                    check_wal_level(conn)
                except ConfigError as exc:
                    problem = str(exc)
        return SlotState(source.config.slot, status, problem)


def cdc_create_slot(project: Project, pipeline_name: str, project_dir: Path) -> SlotState:
    from etl_studio.core.cdc.pipelines import cdc_source

    with cdc_source(project, pipeline_name, project_dir) as source:
        return SlotState(source.config.slot, source.create_slot())


def cdc_drop_slot(project: Project, pipeline_name: str, project_dir: Path) -> SlotState:
    from etl_studio.core.cdc.pipelines import cdc_source

    with cdc_source(project, pipeline_name, project_dir) as source:
        source.drop_slot()
        return SlotState(source.config.slot, None)
