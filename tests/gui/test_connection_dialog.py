"""The connection dialog: an analyst types a server's details and presses Test connection."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from sqlalchemy.engine import make_url

from etl_studio.core.project import Project, dumps_project
from etl_studio.core.project.models import Connection
from etl_studio.gui.dialogs.connection_dialog import ConnectionDialog


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nobody listens there


def _fill_server(qtbot, dialog: ConnectionDialog, url: str, *, port: int | None = None) -> None:
    parts = make_url(url)
    qtbot.keyClicks(dialog.name_edit, "warehouse")
    dialog.set_kind("postgresql")
    qtbot.keyClicks(dialog.host_edit, parts.host or "127.0.0.1")
    dialog.port_spin.setValue(port or parts.port or 5432)
    qtbot.keyClicks(dialog.database_edit, parts.database or "")
    qtbot.keyClicks(dialog.user_edit, parts.username or "")


def test_test_connection_against_the_real_postgresql_reports_the_version(qtbot, tmp_path: Path, postgres_url: str) -> None:
    dialog = ConnectionDialog(tmp_path)
    qtbot.addWidget(dialog)
    _fill_server(qtbot, dialog, postgres_url)
    with qtbot.waitSignal(dialog.testFinished, timeout=20000) as blocker:
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    ok, message = blocker.args
    assert ok, message
    assert "PostgreSQL" in dialog.test_result.text()
    assert dialog.test_result.text().startswith("✓")


def test_test_connection_to_a_closed_port_says_why_it_failed(qtbot, tmp_path: Path) -> None:
    dialog = ConnectionDialog(tmp_path)
    qtbot.addWidget(dialog)
    _fill_server(qtbot, dialog, "postgresql://postgres@127.0.0.1/test", port=_free_port())
    with qtbot.waitSignal(dialog.testFinished, timeout=20000) as blocker:
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    ok, message = blocker.args
    assert not ok
    text = dialog.test_result.text()
    assert text.startswith("✗ Cannot connect")
    assert "refused" in text.lower() or "could not connect" in text.lower()
    assert "\n" not in text  # one line, no traceback


def test_the_password_is_stored_as_an_environment_variable_reference(qtbot, tmp_path: Path) -> None:
    dialog = ConnectionDialog(tmp_path)
    qtbot.addWidget(dialog)
    _fill_server(qtbot, dialog, "postgresql://analyst@db.example.com:5432/sales")
    dialog.password_mode.setCurrentIndex(dialog.password_mode.findData("env"))
    qtbot.keyClicks(dialog.password_ref, "SALES_DB_PASSWORD")
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    connection = dialog.connection()
    assert connection is not None
    assert connection.password == "${SALES_DB_PASSWORD}"
    text = dumps_project(Project(connections=[connection]))
    assert "${SALES_DB_PASSWORD}" in text
    assert make_url(connection.url).password is None


def test_a_typed_password_instead_of_a_variable_name_is_refused_with_a_hint(qtbot, tmp_path: Path) -> None:
    dialog = ConnectionDialog(tmp_path)
    qtbot.addWidget(dialog)
    _fill_server(qtbot, dialog, "postgresql://analyst@db:5432/sales")
    dialog.password_mode.setCurrentIndex(dialog.password_mode.findData("env"))
    qtbot.keyClicks(dialog.password_ref, "s3cr3t!pw")
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    assert "not the password itself" in dialog.error_label.text()


def test_an_unset_variable_is_named_when_testing(qtbot, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("ETL_STUDIO_NO_SUCH_VAR", raising=False)
    dialog = ConnectionDialog(tmp_path)
    qtbot.addWidget(dialog)
    _fill_server(qtbot, dialog, "postgresql://analyst@127.0.0.1:5432/sales")
    dialog.password_mode.setCurrentIndex(dialog.password_mode.findData("env"))
    qtbot.keyClicks(dialog.password_ref, "ETL_STUDIO_NO_SUCH_VAR")
    with qtbot.waitSignal(dialog.testFinished, timeout=20000) as blocker:
        dialog.test()
    assert not blocker.args[0]
    assert "ETL_STUDIO_NO_SUCH_VAR" in dialog.test_result.text()


def test_sqlite_connection_relative_to_the_project_tests_ok(qtbot, tmp_path: Path) -> None:
    dialog = ConnectionDialog(tmp_path)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.name_edit, "local")
    dialog.set_kind("sqlite")
    qtbot.keyClicks(dialog.sqlite_path, "warehouse.db")
    with qtbot.waitSignal(dialog.testFinished, timeout=20000) as blocker:
        dialog.test()
    assert blocker.args[0], blocker.args[1]
    assert "SQLite" in dialog.test_result.text()
    dialog.accept()
    assert dialog.connection() == Connection(name="local", url="sqlite:///warehouse.db")


def test_editing_an_existing_connection_shows_its_parts(qtbot, tmp_path: Path) -> None:
    existing = Connection(name="dw", url="mysql://etl@10.0.0.5:3307/dw", password="${DW_PW}")
    dialog = ConnectionDialog(tmp_path, existing, taken_names={"dw", "other"})
    qtbot.addWidget(dialog)
    assert dialog.kind == "mysql"
    assert dialog.host_edit.text() == "10.0.0.5"
    assert dialog.port_spin.value() == 3307
    assert dialog.password_ref.text() == "DW_PW"
    dialog.accept()
    assert dialog.connection() == existing


def test_a_folder_connection_is_checked_for_existence(qtbot, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("x\n1\n")
    dialog = ConnectionDialog(tmp_path)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.name_edit, "files")
    dialog.set_kind("folder")
    qtbot.keyClicks(dialog.folder_path, "data")
    with qtbot.waitSignal(dialog.testFinished, timeout=20000) as blocker:
        dialog.test()
    assert blocker.args == [True, "Connected: folder with 1 file"]
