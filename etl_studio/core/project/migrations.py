"""Schema migrations: one small function per version step, applied to the raw dict before validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from etl_studio.core.project.models import CURRENT_SCHEMA_VERSION

RawProject = dict[str, Any]
Migration = Callable[[RawProject], RawProject]

# MIGRATIONS[n] turns a version-n dict into a version-(n+1) dict. Version 0 is the
# pre-release draft format, whose pipelines named their target columns "columns".
MIGRATIONS: dict[int, Migration] = {}


def migration(from_version: int) -> Callable[[Migration], Migration]:
    def decorator(fn: Migration) -> Migration:
        MIGRATIONS[from_version] = fn
        return fn

    return decorator


@migration(0)
def _v0_to_v1(raw: RawProject) -> RawProject:
    for pipeline in raw.get("pipelines", []):
        if isinstance(pipeline, dict) and "columns" in pipeline and "mapping" not in pipeline:
            pipeline["mapping"] = pipeline.pop("columns")
    raw["schema_version"] = 1
    return raw


class NewerVersionError(ValueError):
    pass


def migrate(raw: RawProject) -> RawProject:
    """Bring a raw project dict up to CURRENT_SCHEMA_VERSION, step by step."""
    version = raw.get("schema_version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ValueError(f"schema_version must be a whole number, not {version!r}")
    if version > CURRENT_SCHEMA_VERSION:
        raise NewerVersionError(
            f"this file has schema_version {version}, newer than this ETL Studio understands "
            f"({CURRENT_SCHEMA_VERSION}); update ETL Studio to open it"
        )
    while version < CURRENT_SCHEMA_VERSION:
        raw = MIGRATIONS[version](raw)
        version = raw["schema_version"]
    return raw
