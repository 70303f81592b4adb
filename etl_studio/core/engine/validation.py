"""validate_project: every problem of a project (file, connections, columns, expressions, targets, cycles)."""

from __future__ import annotations

from pathlib import Path

from etl_studio.core import plugins
from etl_studio.core.connections import ConnectionPool, sqlite_file_not_made_yet, test_connection
from etl_studio.core.context import RunContext
from etl_studio.core.engine.assembly import assemble
from etl_studio.core.engine.dependencies import find_cycle
from etl_studio.core.errors import EtlError, Problem
from etl_studio.core.mapping.apply import mapping_problems
from etl_studio.core.project.models import Pipeline, Project
from etl_studio.core.project.validate import plugin_config_problems

PARAM_NAMES = ("run_date", "window_start", "window_end")


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _sqlite_file_missing(context: RunContext, connection: str) -> bool:
    try:
        url = context.connections.url(connection)
    except EtlError:
        return False
    return sqlite_file_not_made_yet(url)


def _pipeline_problems(pipeline: Pipeline, base: str, context: RunContext, reachable: dict[str, bool]) -> list[Problem]:
    problems: list[Problem] = []
    connection_names = {c.name for c in context.connections.project.connections}
    for part, spec in [("source", pipeline.source), ("target", pipeline.target)] + [(f"steps[{j}]", s) for j, s in enumerate(pipeline.steps)]:
        name = spec.config.get("connection")
        if isinstance(name, str) and name not in connection_names:
            problems.append(Problem(f"{base}.{part}.config.connection", f"no connection named '{name}' (connections: {', '.join(sorted(connection_names)) or 'none'})"))
    if problems:
        return problems
    try:
        parts = assemble(pipeline, context)
    except EtlError as exc:
        return [Problem(base, _message(exc))]
    source_connection = pipeline.source.config.get("connection")
    if isinstance(source_connection, str) and not reachable.get(source_connection, True):
        return problems  # the connection problem is already listed
    try:
        columns = [c.name for c in parts.source.columns()]
    except Exception as exc:  # noqa: BLE001 - any failure to read is a problem to show
        return [Problem(f"{base}.source", _message(exc))]
    for j, (spec, step) in enumerate(zip([s for s in pipeline.steps if s.enabled], parts.steps)):
        index = pipeline.steps.index(spec)
        try:
            columns = step.output_columns(columns)
        except Exception as exc:  # noqa: BLE001
            problems.append(Problem(f"{base}.steps[{index}]", _message(exc)))
            return problems
    carried = set(parts.source.change_columns)  # CDC's __op__ ...: they go round the mapping, never to the table
    columns = [c for c in columns if c not in carried]
    problems += mapping_problems(pipeline.mapping, columns, params=PARAM_NAMES, prefix=f"{base}.mapping")
    target_columns = [c.name for c in pipeline.mapping] or columns
    enabled_rules = [r for r in pipeline.rules if r.enabled]
    for spec, rule in zip(enabled_rules, parts.rules):
        index = pipeline.rules.index(spec)
        try:
            unknown = [c for c in rule.columns() if c not in target_columns]
        except Exception as exc:  # noqa: BLE001
            problems.append(Problem(f"{base}.rules[{index}]", _message(exc)))
            continue
        for column in unknown:
            problems.append(Problem(f"{base}.rules[{index}].config", f"rule '{spec.name}' checks unknown column '{column}' (target columns: {', '.join(target_columns)})"))
        expr = spec.config.get("expr")
        if spec.kind == "expression" and isinstance(expr, str):
            from etl_studio.core.expressions import check_expression

            for error in check_expression(expr, target_columns, params=PARAM_NAMES):
                problems.append(Problem(f"{base}.rules[{index}].config.expr", str(error)))
    target_connection = pipeline.target.config.get("connection")
    if isinstance(target_connection, str) and _sqlite_file_missing(context, target_connection):
        return problems  # the first load creates it; inspecting it now would create an empty file
    if pipeline.mapping and parts.target is not None and (not isinstance(target_connection, str) or reachable.get(target_connection, True)):
        try:
            for difference in parts.target.schema_differences(list(pipeline.mapping)):
                problems.append(Problem(f"{base}.target", difference))
        except Exception as exc:  # noqa: BLE001
            problems.append(Problem(f"{base}.target", _message(exc)))
    return problems


def validate_project(project: Project, project_dir: Path, *, check_connections: bool = True) -> list[Problem]:
    """All problems, not just the first; an empty list means the project can run."""
    problems = plugin_config_problems(project)
    broken = {p.path.split(".")[0] for p in problems}
    reachable: dict[str, bool] = {}
    if check_connections:
        for i, connection in enumerate(project.connections):
            try:
                test_connection(connection, project_dir)
                reachable[connection.name] = True
            except EtlError as exc:
                reachable[connection.name] = False
                problems.append(Problem(f"connections[{i}]", _message(exc)))
    names = {p.name for p in project.pipelines}
    from etl_studio.core.scheduling.triggers import cron_problem

    from etl_studio.core.cdc.pipelines import cdc_problems
    from etl_studio.core.engine.incremental import incremental_problems

    for i, pipeline in enumerate(project.pipelines):
        for message in incremental_problems(pipeline):
            problems.append(Problem(f"pipelines[{i}].incremental", message))
        for part, message in cdc_problems(pipeline):
            problems.append(Problem(f"pipelines[{i}].{part}", message))
        schedule = pipeline.schedule
        if schedule is not None and schedule.cron is not None:
            message = cron_problem(schedule.cron, schedule.timezone)
            if message:
                problems.append(Problem(f"pipelines[{i}].schedule.cron", message))
        for upstream in pipeline.depends_on:
            if upstream not in names:
                problems.append(Problem(f"pipelines[{i}].depends_on", f"depends on unknown pipeline '{upstream}'"))
    cycle = find_cycle(project)
    if cycle:
        problems.append(Problem("pipelines", f"pipelines depend on each other in a cycle: {' -> '.join(cycle)}"))
    pool = ConnectionPool(project, project_dir)
    try:
        plugins.load_builtin_plugins()
        for i, pipeline in enumerate(project.pipelines):
            base = f"pipelines[{i}]"
            if base in broken:
                continue
            context = RunContext(project_dir=project_dir, connections=pool, preview=True)
            problems += _pipeline_problems(pipeline, base, context, reachable)
    finally:
        pool.dispose()
    return problems
