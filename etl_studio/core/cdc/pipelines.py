"""The CDC source of a project's pipeline, ready for slot management: what the app's buttons and `etl-studio cdc` call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from etl_studio.core.connections import ConnectionPool
from etl_studio.core.context import RunContext
from etl_studio.core.errors import InvalidInputError
from etl_studio.core.project.models import Pipeline, Project

if TYPE_CHECKING:
    from etl_studio.core.sources.pg_cdc import PgCdcSource

CDC_SOURCE_KIND = "pg_cdc"
CDC_TARGET_KIND = "sql_table"
CDC_MODE = "cdc"  # the sql_table mode that applies changes (upsert and delete by key)


def applies_changes(pipeline: Pipeline) -> bool:
    """Whether the pipeline's target applies captured changes (a sql_table in mode 'cdc')."""
    return pipeline.target.kind == CDC_TARGET_KIND and pipeline.target.config.get("mode") == CDC_MODE


def cdc_problems(pipeline: Pipeline) -> list[tuple[str, str]]:
    """(part, message) for each way the pipeline mixes change data capture with what cannot take it.

    A pg_cdc source gives changes (with deletes), which only a target in mode 'cdc' applies;
    mode 'cdc' reads the change columns only such a source gives. ``part`` is ``target`` or
    ``incremental``, to be put after ``pipelines[i].``.
    """
    reads = pipeline.source.kind == CDC_SOURCE_KIND
    applies = applies_changes(pipeline)
    found: list[tuple[str, str]] = []
    if reads and not applies:
        target = pipeline.target.kind
        mode = pipeline.target.config.get("mode", "append") if target == CDC_TARGET_KIND else None
        found.append((
            "target",
            f"a {CDC_SOURCE_KIND} source gives inserts, updates and deletes, which only a {CDC_TARGET_KIND} target in mode "
            f"'{CDC_MODE}' (with keys) applies; this target is {target}{f' in mode {mode!r}' if mode else ''}",
        ))
    if applies and not reads:
        found.append((
            "target",
            f"mode '{CDC_MODE}' applies captured changes and needs a {CDC_SOURCE_KIND} source; this pipeline reads "
            f"{pipeline.source.kind}: use upsert or merge instead",
        ))
    if reads and pipeline.incremental is not None:
        found.append((
            "incremental",
            "a change data capture source resumes from its replication slot; remove the incremental settings",
        ))
    return found


def cdc_pipelines(project: Project) -> list[str]:
    """Names of the pipelines that read a PostgreSQL replication slot."""
    return [p.name for p in project.pipelines if p.source.kind == CDC_SOURCE_KIND]


def choose_pipeline(project: Project, name: str | None) -> str:
    """``name`` checked to be a CDC pipeline; when None, the project's only CDC pipeline."""
    candidates = cdc_pipelines(project)
    if name is None:
        if len(candidates) == 1:
            return candidates[0]
        listed = ", ".join(candidates) or "none"
        raise InvalidInputError(f"name the pipeline with --pipeline (pipelines reading a replication slot: {listed})")
    pipeline = project.pipeline(name)
    if pipeline.source.kind != CDC_SOURCE_KIND:
        raise InvalidInputError(
            f"pipeline '{name}' reads a {pipeline.source.kind} source, not a PostgreSQL replication slot ({CDC_SOURCE_KIND})"
        )
    return name


@contextmanager
def cdc_source(project: Project, pipeline_name: str, project_dir: Path) -> Iterator[PgCdcSource]:
    """The pipeline's PgCdcSource over the project's connections (closed afterwards)."""
    from etl_studio.core.sources.pg_cdc import PgCdcSource

    pipeline = project.pipeline(choose_pipeline(project, pipeline_name))
    pool = ConnectionPool(project, project_dir)
    try:
        context = RunContext(project_dir=project_dir, connections=pool)
        try:
            source = PgCdcSource.from_spec(pipeline.source.config, context)
        except ValueError as exc:  # pydantic's ValidationError
            raise InvalidInputError(f"pipeline '{pipeline.name}': source: {exc}") from None
        yield source  # type: ignore[misc]
    finally:
        pool.dispose()
