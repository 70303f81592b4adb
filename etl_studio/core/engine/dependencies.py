"""Pipeline dependencies (depends_on): cycles, and the order that runs upstream pipelines first."""

from __future__ import annotations

from etl_studio.core.errors import InvalidInputError
from etl_studio.core.project.models import Project


def find_cycle(project: Project) -> list[str] | None:
    """A dependency cycle as a path that returns to its start (['a', 'b', 'a']), or None."""
    graph = {p.name: list(p.depends_on) for p in project.pipelines}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for upstream in graph.get(node, []):
            if upstream not in graph:
                continue
            if state.get(upstream) == 1:
                return path[path.index(upstream):] + [upstream]
            if state.get(upstream) is None:
                found = visit(upstream)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for name in graph:
        if state.get(name) is None:
            found = visit(name)
            if found:
                return list(reversed(found))
    return None


def execution_order(project: Project, names: list[str] | None = None, *, include_upstream: bool = True) -> list[str]:
    """The named pipelines (all when None), upstream ones first; with include_upstream, their upstreams too."""
    cycle = find_cycle(project)
    if cycle:
        raise InvalidInputError(f"pipelines depend on each other in a cycle: {' -> '.join(cycle)}")
    known = {p.name: p for p in project.pipelines}
    wanted = list(known) if names is None else names
    for name in wanted:
        if name not in known:
            raise InvalidInputError(f"no pipeline named '{name}' (pipelines: {', '.join(known) or 'none'})")
    order: list[str] = []

    def add(name: str) -> None:
        if name in order:
            return
        for upstream in known[name].depends_on:
            if upstream in known and (include_upstream or upstream in wanted):
                add(upstream)
        order.append(name)

    for name in wanted:
        add(name)
    return order
