"""Connections: secrets resolved only in memory, clear failures, folders as connections."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl_studio.core.connections import build_url, test_connection as check_connection
from etl_studio.core.context import mask_secrets
from etl_studio.core.errors import ConfigError, ConnectionFailedError
from etl_studio.core.project import Connection


def test_a_sqlite_path_is_relative_to_the_project(tmp_path: Path) -> None:
    url = build_url(Connection(name="w", url="sqlite:///warehouse.db"), tmp_path)
    assert url.database == str((tmp_path / "warehouse.db").resolve())
    assert check_connection(Connection(name="w", url="sqlite:///warehouse.db"), tmp_path).startswith("SQLite ")


def test_a_password_reference_is_resolved_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETL_TEST_PW", "s3cret")
    url = build_url(Connection(name="pg", url="postgresql://etl@db/w", password="${ETL_TEST_PW}"), tmp_path)
    assert url.password == "s3cret" and url.drivername == "postgresql+psycopg2"
    assert "s3cret" not in url.render_as_string(hide_password=True)


def test_a_missing_environment_variable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ETL_TEST_MISSING", raising=False)
    with pytest.raises(ConfigError, match="ETL_TEST_MISSING is not set"):
        build_url(Connection(name="pg", url="postgresql://etl@db/w", password="${ETL_TEST_MISSING}"), tmp_path)


def test_secrets_are_masked_in_messages() -> None:
    assert mask_secrets("could not connect to postgresql://etl:hunter2@db:5432/w") == "could not connect to postgresql://etl:***@db:5432/w"


def test_the_real_postgresql_answers_with_its_version(tmp_path: Path, postgres_url: str) -> None:
    assert check_connection(Connection(name="pg", url=postgres_url), tmp_path).startswith("PostgreSQL 1")


def test_the_real_mariadb_answers_with_its_version(tmp_path: Path, mysql_url: str) -> None:
    assert check_connection(Connection(name="my", url=mysql_url), tmp_path).startswith(("MariaDB", "MySQL"))


def test_a_closed_port_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(ConnectionFailedError, match="127.0.0.1"):
        check_connection(Connection(name="pg", url="postgresql://postgres@127.0.0.1:1/test"), tmp_path)


def test_a_folder_connection_checks_the_folder(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("x\n1\n")
    assert check_connection(Connection(name="files", url="file:in"), tmp_path) == "folder with 1 file"
    with pytest.raises(ConnectionFailedError, match="does not exist"):
        check_connection(Connection(name="files", url="file:nope"), tmp_path)


def test_testing_a_sqlite_connection_never_creates_the_file(tmp_path: Path) -> None:
    answer = check_connection(Connection(name="w", url="sqlite:///new.db"), tmp_path)
    assert "created by the first load" in answer
    assert not (tmp_path / "new.db").exists()
