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
