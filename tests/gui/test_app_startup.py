"""Starting the app where Qt cannot open a window: one line saying what to do, exit code 2, no abort."""

from __future__ import annotations

import subprocess
import sys

import pytest

from etl_studio import app


def test_offscreen_needs_no_display() -> None:
    assert app.display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None


def test_no_display_on_linux_says_the_command_line_works_without_a_screen() -> None:
    problem = app.display_problem({}, "linux")
    assert problem is not None
    assert "no display" in problem and "etl-studio run PROJECT" in problem
    assert "\n" not in problem


def test_windows_and_macos_always_have_a_screen() -> None:
    assert app.display_problem({}, "win32") is None
    assert app.display_problem({}, "darwin") is None


def test_a_missing_xcb_library_names_the_package_to_install(monkeypatch) -> None:
    monkeypatch.setattr(app, "missing_xcb_library", lambda: "libxcb-cursor.so.0")
    problem = app.display_problem({"DISPLAY": ":0"}, "linux")
    assert problem is not None
    assert "libxcb-cursor.so.0" in problem and "apt install libxcb-cursor0" in problem


@pytest.mark.parametrize(("library", "package"), [
    ("libxcb-cursor.so.0", "libxcb-cursor0"),
    ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
])
def test_library_names_map_to_debian_packages(library: str, package: str) -> None:
    assert app._debian_package(library) == package


def test_main_without_a_display_prints_one_line_and_returns_2(monkeypatch, capsys) -> None:
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert app.main() == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("etl-studio: cannot open a window")


def test_the_command_without_a_display_exits_2_instead_of_aborting(tmp_path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", "import sys; from etl_studio.app import main; sys.exit(main())"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1
    assert "the command line works without a screen" in done.stderr


def test_a_broken_project_named_on_the_command_line_exits_2(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    broken = tmp_path / "x.etlproj"
    broken.write_text("{not json", encoding="utf-8")
    assert app.main(str(broken)) == 2
    assert "not valid JSON" in capsys.readouterr().err
