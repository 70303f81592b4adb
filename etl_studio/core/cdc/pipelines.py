"""The CDC source of a project's pipeline, ready for slot management: what the app's buttons and `etl-studio cdc` call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from etl_studio.core.connections import ConnectionPool
from etl_studio.core.context import RunContext
from etl_studio.core.errors import InvalidInputError
from etl_studio.core.project.models import Project

if TYPE_CHECKING:
    from etl_studio.core.sources.pg_cdc import PgCdcSource

CDC_SOURCE_KIND = "pg_cdc"


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
