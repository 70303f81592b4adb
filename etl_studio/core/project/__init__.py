"""The project file: typed models, loading with migrations, atomic saving."""

from etl_studio.core.project.models import (
    CURRENT_SCHEMA_VERSION,
    Connection,
    Pipeline,
    PluginSpec,
    Project,
    RuleSpec,
    Schedule,
    StepSpec,
    TargetColumn,
)
from etl_studio.core.project.file import dumps_project, load_project, loads_project, save_project

__all__ = [
    "CURRENT_SCHEMA_VERSION",
    "Connection",
    "Pipeline",
    "PluginSpec",
    "Project",
    "RuleSpec",
    "Schedule",
    "StepSpec",
    "TargetColumn",
    "dumps_project",
    "load_project",
    "loads_project",
    "save_project",
]
