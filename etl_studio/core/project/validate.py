"""Checks of plugin configs against their registered models, each problem at its JSON path."""

from __future__ import annotations

from pydantic import ValidationError

from etl_studio.core.errors import Problem
from etl_studio.core.project.models import PluginSpec, Project
from etl_studio.core.registry import Registry


def _spec_problems(spec: PluginSpec, registry: Registry, path: str) -> list[Problem]:
    from etl_studio.core.project.file import validation_problems

    if spec.kind not in registry:
        return [Problem(f"{path}.kind", f"unknown {registry.name} kind '{spec.kind}' (known: {', '.join(registry.keys())})")]
    model = registry.get(spec.kind).config_model
    try:
        model.model_validate(spec.config)
    except ValidationError as exc:
        return validation_problems(exc, prefix=f"{path}.config")
    return []


def plugin_config_problems(project: Project) -> list[Problem]:
    from etl_studio.core import plugins

    plugins.load_builtin_plugins()
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, pipeline in enumerate(project.pipelines):
        base = f"pipelines[{i}]"
        if pipeline.name in seen:
            problems.append(Problem(f"{base}.name", f"two pipelines are named '{pipeline.name}'"))
        seen.add(pipeline.name)
        problems += _spec_problems(pipeline.source, plugins.sources, f"{base}.source")
        for j, step in enumerate(pipeline.steps):
            problems += _spec_problems(step, plugins.steps, f"{base}.steps[{j}]")
        for j, rule in enumerate(pipeline.rules):
            problems += _spec_problems(rule, plugins.rules, f"{base}.rules[{j}]")
        problems += _spec_problems(pipeline.target, plugins.targets, f"{base}.target")
        names: set[str] = set()
        for j, column in enumerate(pipeline.mapping):
            if column.name in names:
                problems.append(Problem(f"{base}.mapping[{j}].name", f"target column '{column.name}' appears twice"))
            names.add(column.name)
    connection_names = [c.name for c in project.connections]
    for i, name in enumerate(connection_names):
        if name in connection_names[:i]:
            problems.append(Problem(f"connections[{i}].name", f"two connections are named '{name}'"))
    return problems
