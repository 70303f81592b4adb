"""Migrations: one step per version, applied to the raw dict before validation."""

from etl_studio.core.project.migrations import MIGRATIONS, migrate
from etl_studio.core.project.models import CURRENT_SCHEMA_VERSION


def test_there_is_a_step_from_every_older_version() -> None:
    assert sorted(MIGRATIONS) == list(range(CURRENT_SCHEMA_VERSION))


def test_v0_columns_become_the_mapping() -> None:
    raw = {"schema_version": 0, "pipelines": [{"name": "a", "columns": [{"name": "id"}]}]}
    migrated = migrate(raw)
    assert migrated["schema_version"] == 1
    assert migrated["pipelines"][0]["mapping"] == [{"name": "id"}]
    assert "columns" not in migrated["pipelines"][0]


def test_a_missing_version_is_treated_as_the_oldest() -> None:
    assert migrate({"pipelines": []})["schema_version"] == CURRENT_SCHEMA_VERSION
