"""Shared by the GUI tests of incremental loads, strategies, plans, CDC and schedules: example copies and windows."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QSettings, QThreadPool

from etl_studio.gui.main_window import MainWindow

REPO = Path(__file__).resolve().parents[2]
INCREMENTAL = REPO / "resources" / "examples" / "incremental"
SHOTS = Path("/tmp/etl_studio_gui_shots")

_KEEP: list[object] = []  # widgets closed by a test stay alive: a late worker result must find them


def copy_incremental(tmp_path: Path) -> Path:
    folder = tmp_path / "incremental"
    shutil.copytree(INCREMENTAL, folder, ignore=shutil.ignore_patterns(".etl_studio", "warehouse.db"))
    return folder / "incremental.etlproj"


def open_window(qtbot, project_path: Path | None, tmp_path: Path) -> MainWindow:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, check_connections=False)
    window.ask_save_changes = lambda: "discard"  # type: ignore[method-assign]
    window.ask_stop_runs = lambda: True  # type: ignore[method-assign]
    window.resize(1400, 900)
    window.show()
    if project_path is not None:
        assert window.open_project(project_path, ask=False)
    return window


def settle(widget: object) -> None:
    """Close a window (or hide a widget) and let every worker finish before the next test."""
    if isinstance(widget, MainWindow):
        widget.close()
        widget.run_controller.wait_for_all(60000)
    else:
        widget.hide()  # type: ignore[attr-defined]
    QThreadPool.globalInstance().waitForDone(60000)
    _KEEP.append(widget)


def save_shot(widget: object, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    widget.grab().save(str(path))  # type: ignore[attr-defined]
    return path
