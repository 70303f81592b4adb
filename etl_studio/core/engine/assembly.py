"""Builds a pipeline's plugin instances from the project model for one run or preview."""

from __future__ import annotations

from dataclasses import dataclass

from etl_studio.core import plugins
from etl_studio.core.context import RunContext
from etl_studio.core.project.models import Pipeline
from etl_studio.core.rules.base import QualityRule
from etl_studio.core.sources.base import Source
from etl_studio.core.steps.base import Step
from etl_studio.core.targets.base import Target

DEFAULT_CHUNK_SIZE = 100_000


@dataclass
class AssembledPipeline:
    pipeline: Pipeline
    source: Source
    steps: list[Step]
    rules: list[QualityRule]
    target: Target | None


def assemble(pipeline: Pipeline, context: RunContext, *, with_target: bool = True) -> AssembledPipeline:
    """Fresh instances every time: steps and rules keep per-run state (dedupe keys, unique sets)."""
    plugins.load_builtin_plugins()
    source = plugins.sources.get(pipeline.source.kind).from_spec(pipeline.source.config, context)
    steps = [plugins.steps.get(s.kind).from_spec(s.config, context) for s in pipeline.steps if s.enabled]
    rules = [
        plugins.rules.get(r.kind).from_spec(r.config, context, name=r.name, severity=r.severity, action=r.action)
        for r in pipeline.rules
        if r.enabled
    ]
    target = plugins.targets.get(pipeline.target.kind).from_spec(pipeline.target.config, context) if with_target else None
    return AssembledPipeline(pipeline, source, steps, rules, target)  # type: ignore[arg-type]


def step_output_columns(steps: list[Step], columns: list[str]) -> list[str]:
    for step in steps:
        columns = step.output_columns(columns)
    return columns
