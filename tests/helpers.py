"""Test helpers: copies of the demo project pointed at a chosen database."""

from __future__ import annotations

import shutil
from pathlib import Path

from etl_studio.core.project import Project, load_project, save_project

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "resources" / "examples" / "orders"


def copy_demo(tmp_path: Path, *, url: str | None = None, suffix: str = "") -> Path:
    """The demo project and its CSVs in tmp_path; optionally loading into another database,
    with table names made unique by ``suffix`` so tests never see each other's rows."""
    folder = tmp_path / "demo"
    folder.mkdir(exist_ok=True)
    for name in ("orders.csv", "customers.csv", "orders.etlproj"):
        shutil.copy(DEMO / name, folder / name)
    project = load_project(folder / "orders.etlproj")
    if url is not None or suffix:
        connections = [c.model_copy(update={"url": url}) if url and c.name == "warehouse" else c for c in project.connections]
        pipelines = []
        for p in project.pipelines:
            target = p.target.model_copy(update={"config": {**p.target.config, "table": p.target.config["table"] + suffix}})
            pipelines.append(p.model_copy(update={"target": target}))
        project = project.model_copy(update={"connections": connections, "pipelines": pipelines})
        save_project(project, folder / "orders.etlproj")
    return folder / "orders.etlproj"


def load(path: Path) -> Project:
    return load_project(path)
