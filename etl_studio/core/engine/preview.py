"""preview_pipeline: the first N rows through steps, mapping and rules, with every violation; loads nothing."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from etl_studio.core.connections import ConnectionPool
from etl_studio.core.context import RunContext
from etl_studio.core.engine.assembly import assemble
from etl_studio.core.engine.flow import REASON_COLUMN, ROW_ERROR_COLUMN, RULE_COLUMN, ChunkChecker, Violation, run_steps
from etl_studio.core.engine.runlog import run_logger
from etl_studio.core.errors import EtlError
from etl_studio.core.mapping.apply import compile_mapping
from etl_studio.core.project.models import Project

DEFAULT_PREVIEW_ROWS = 200


@dataclass
class PreviewResult:
    raw: pd.DataFrame  # source rows as read
    transformed: pd.DataFrame  # after steps and mapping; index = source row numbers
    violations: list[Violation] = field(default_factory=list)
    quarantined: pd.DataFrame = field(default_factory=pd.DataFrame)  # transformed-input columns + __rule__, __reason__
    rule_counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def preview_pipeline(
    project: Project,
    pipeline_name: str,
    *,
    project_dir: Path,
    rows: int = DEFAULT_PREVIEW_ROWS,
    cancel: threading.Event | None = None,
    params: dict | None = None,
    report: object = None,  # accepted so a GUI worker can pass its report; previews report nothing
) -> PreviewResult:
    """Reads only ``rows`` source rows. Blocking steps (sort, aggregate) see only those rows: a preview
    shows what the pipeline does, not the run's totals. Errors come back as ``problems``."""
    pipeline = project.pipeline(pipeline_name)
    pool = ConnectionPool(project, project_dir)
    context = RunContext(project_dir=project_dir, connections=pool, params=dict(params or {}), cancel=cancel or threading.Event(),
                         logger=run_logger(pipeline.name), preview=True)
    raw_parts: list[pd.DataFrame] = []
    try:
        parts = assemble(pipeline, context, with_target=False)

        def raw_chunks():
            for chunk in parts.source.read_chunks(rows, limit=rows):
                context.check_cancelled()
                raw_parts.append(chunk)
                yield chunk

        transformed_parts: list[pd.DataFrame] = []
        quarantined_parts: list[pd.DataFrame] = []
        violations: list[Violation] = []
        checker: ChunkChecker | None = None
        for chunk in run_steps(raw_chunks(), parts.steps):
            if checker is None:
                carried = tuple(parts.source.change_columns)  # CDC: shown beside the mapped columns, never mapped
                columns = [c for c in chunk.columns if c != ROW_ERROR_COLUMN and c not in carried]
                checker = ChunkChecker(compile_mapping(pipeline.mapping, columns, params=context.params.keys()), parts.rules, "preview",
                                       context.params, collect_violations=True, carry=carried)
            checked = checker.check(chunk)
            transformed_parts.append(checked.mapped)
            quarantined_parts.append(checked.quarantined)
            violations += checked.violations
        problems = []
        if checker is not None:
            for rule, message in checker.finish():
                problems.append(f"rule '{rule.name}': {message}")
            counts = {name: result.rows_failed for name, result in checker.results.items()}
        else:
            counts = {r.name: 0 for r in parts.rules}
        raw = pd.concat(raw_parts) if raw_parts else pd.DataFrame()
        transformed = pd.concat(transformed_parts) if transformed_parts else pd.DataFrame(columns=[c.name for c in pipeline.mapping])
        quarantined = pd.concat(quarantined_parts) if quarantined_parts else pd.DataFrame(columns=[RULE_COLUMN, REASON_COLUMN])
        return PreviewResult(raw, transformed, violations, quarantined, counts, problems)
    except EtlError as exc:
        raw = pd.concat(raw_parts) if raw_parts else pd.DataFrame()
        return PreviewResult(raw, pd.DataFrame(), problems=[str(exc)])
    finally:
        pool.dispose()
