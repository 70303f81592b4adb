"""The desktop app's composition root: checks Qt can open a window, then builds and shows the MainWindow."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import sys
from pathlib import Path

from etl_studio.bundled import DEMO_PROJECT, demo_project

ORGANISATION = "ETL Studio"
APPLICATION = "ETL Studio"

# Platforms that need no screen at all.
_HEADLESS_PLATFORMS = {"offscreen", "minimal", "vnc", "linuxfb", "eglfs", "minimalegl", "vkkhrdisplay"}
_CLI_HINT = "the command line works without a screen (etl-studio run PROJECT)"


def _debian_package(library: str) -> str:
    """libxcb-cursor.so.0 -> libxcb-cursor0; libxkbcommon-x11.so.0 -> libxkbcommon-x11-0 (Debian's naming)."""
    match = re.match(r"^(lib[\w+.-]+?)\.so\.(\d+)", library)
    if not match:
        return library
    name, major = match.groups()
    return f"{name}-{major}" if name[-1].isdigit() else f"{name}{major}"


def _qt_plugin_dir() -> Path | None:
    try:
        import PySide6
    except ImportError:
        return None
    folder = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms"
    return folder if folder.is_dir() else None


def display_problem(environ: dict[str, str] | None = None, platform: str | None = None) -> str | None:
    """Why Qt could not open a window here, in one line, or None when it can.

    Qt itself aborts the process in these cases (no display; on Linux a missing xcb
    library, often libxcb-cursor0 which Qt 6.5+ needs), so we look before starting it.
    """
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    try:
        import PySide6  # noqa: F401
    except ImportError:
        return f"cannot start the desktop app: PySide6 is not installed (pip install PySide6); {_CLI_HINT}"
    requested = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if requested in _HEADLESS_PLATFORMS:
        return None
    if not platform.startswith("linux"):
        return None  # Windows and macOS always have their native platform plugin
    wayland = bool(env.get("WAYLAND_DISPLAY"))
    x11 = bool(env.get("DISPLAY"))
    if requested.startswith("wayland"):
        return None if wayland else f"cannot open a window: QT_QPA_PLATFORM={requested} but WAYLAND_DISPLAY is not set; {_CLI_HINT}"
    if not x11 and not wayland:
        return (f"cannot open a window: no display (DISPLAY and WAYLAND_DISPLAY are not set); {_CLI_HINT}, "
                "or set QT_QPA_PLATFORM=offscreen")
    if wayland and not requested and not x11:
        return None
    missing = missing_xcb_library()
    if missing:
        return (f"cannot open a window: Qt's X11 (xcb) platform needs {missing}, which is not installed — "
                f"install it (Debian/Ubuntu: sudo apt install {_debian_package(missing)}); {_CLI_HINT}")
    if x11 and not x11_display_reachable(env.get("DISPLAY", "")):
        return f"cannot open a window: cannot connect to the X display {env.get('DISPLAY')!r}; {_CLI_HINT}"
    return None


def missing_xcb_library() -> str | None:
    """The first shared library the xcb platform plugin cannot load, or None."""
    if ctypes.util.find_library("xcb-cursor") is None:
        try:
            ctypes.CDLL("libxcb-cursor.so.0")
        except OSError:
            return "libxcb-cursor.so.0"
    folder = _qt_plugin_dir()
    plugin = folder / "libqxcb.so" if folder else None
    if plugin is None or not plugin.exists():
        return None
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        match = re.search(r"([\w.+-]+\.so[\w.]*): cannot open shared object file", str(exc))
        return match.group(1) if match else str(exc).splitlines()[0]
    return None


def x11_display_reachable(display: str) -> bool:
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return True  # cannot tell; let Qt try
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    try:
        return xcb.xcb_connection_has_error(connection) == 0
    finally:
        xcb.xcb_disconnect(connection)


def _application():  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QApplication

    from etl_studio.gui.style import apply_style

    from PySide6.QtCore import QThreadPool

    app = QApplication.instance() or QApplication(sys.argv[:1])
    # Previews, validation (which may wait on an unreachable server), column reads and
    # connection tests share the global pool: on a 2-core machine 2 threads is too few.
    pool = QThreadPool.globalInstance()
    pool.setMaxThreadCount(max(pool.maxThreadCount(), 6))
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APPLICATION)
    apply_style(app)  # type: ignore[arg-type]
    return app


def starting_project(project_path: str | os.PathLike[str] | None, settings) -> Path | None:  # type: ignore[no-untyped-def]
    """The project to open: the one asked for, else the last one, else the bundled demo."""
    if project_path:
        return Path(project_path).expanduser().resolve()
    last = settings.value("lastProject")
    if last and Path(str(last)).is_file():
        return Path(str(last))
    demo = demo_project()
    return demo if demo.is_file() else None


def build_window(project_path: str | os.PathLike[str] | None = None, settings=None, *, remember: bool = True):  # type: ignore[no-untyped-def]
    """The main window with its project open (used by main, screenshots and tests)."""
    from PySide6.QtCore import QSettings

    from etl_studio.core import plugins
    from etl_studio.gui.main_window import MainWindow

    _application()
    plugins.load_builtin_plugins()
    settings = settings if settings is not None else QSettings(ORGANISATION, APPLICATION)
    window = MainWindow(settings=settings)
    path = starting_project(project_path, settings)
    if path is not None:
        opened = window.open_project(path, ask=False)
        if not opened and project_path is None:
            demo = demo_project()
            if path != demo and demo.is_file():
                window.open_project(demo, ask=False)  # the last project is gone or broken
    if not remember:
        window.settings.remove("lastProject")
    return window


def main(project_path: str | None = None) -> int:
    """`etl-studio` / `etl-studio gui PROJECT`: 0 after a normal quit, 2 when no window can open."""
    problem = display_problem()
    if problem:
        print(f"etl-studio: {problem}", file=sys.stderr)
        return 2
    if project_path:
        from etl_studio.core.errors import ProjectFileError
        from etl_studio.gui.main_window import open_project_for_editing

        try:
            open_project_for_editing(Path(project_path).expanduser())
        except ProjectFileError as exc:
            print(f"etl-studio: {exc}", file=sys.stderr)
            return 2
    app = _application()
    window = build_window(project_path)
    window.show()
    return int(app.exec())


def screenshots(outdir: Path, project: Path | None = None) -> int:
    """`etl-studio screenshots OUTDIR [PROJECT]`: the main window in its main states, as PNG files.

    Works on a copy of the project, so the runs it makes never touch the real target.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    problem = display_problem()
    if problem:
        print(f"etl-studio: {problem}", file=sys.stderr)
        return 2
    source = Path(project or DEMO_PROJECT).expanduser().resolve()
    if not source.is_file():
        print(f"etl-studio: {source}: file not found", file=sys.stderr)
        return 2
    _application()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    for name in take_screenshots(outdir, source):
        print(outdir / name)
    return 0


def _wait(signal, timeout_ms: int) -> list:  # type: ignore[no-untyped-def]
    """Run the event loop until ``signal`` fires (its arguments) or the time is up ([])."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    got: list = []
    signal.connect(lambda *args: (got.extend(args) if not got else None, loop.quit()))
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    return got


def _settle(ms: int = 300) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def take_screenshots(outdir: Path, project_file: Path) -> list[str]:
    import shutil
    import tempfile

    from PySide6.QtCore import QSettings

    work = Path(tempfile.mkdtemp(prefix="etl-screenshots-"))
    copy = work / project_file.parent.name
    shutil.copytree(project_file.parent, copy, ignore=shutil.ignore_patterns(".etl_studio", "*.db", "*.db-journal", "*.bak"))
    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
    window = build_window(copy / project_file.name, settings, remember=False)
    window.ask_save_changes = lambda: "discard"  # type: ignore[method-assign]
    window.resize(1440, 900)
    window.show()
    pipelines = window.document.project.pipelines
    name = next((p.name for p in reversed(pipelines) if p.mapping), pipelines[0].name if pipelines else None)
    written: list[str] = []

    def shoot(file_name: str) -> None:
        _settle()
        window.grab().save(str(outdir / file_name))
        written.append(file_name)

    if name is not None:
        window.select_pipeline(name)
        window.pipeline_editor.show_tab("mapping")
        mapping = window.pipeline_editor.mapping_panel
        if hasattr(mapping, "sourceColumnsLoaded"):
            _wait(mapping.sourceColumnsLoaded, 20000)
    shoot("mapping.png")
    # The data panels get most of the height for their own pictures.
    from PySide6.QtCore import Qt

    preview = window.panels.get("preview")
    if name is not None and preview is not None and hasattr(preview, "previewFinished"):
        window.preview()
        _wait(preview.previewFinished, 60000)
    # The preview's own picture: its dock gets most of the height, the Source tab the rest,
    # and a column with violations is selected so its profile shows.
    window.pipeline_editor.show_tab("source")
    _settle()
    window.resizeDocks([window.docks["preview"]], [620], Qt.Orientation.Vertical)
    if preview is not None and hasattr(preview, "profile_column"):
        model = preview.transformed_view.model()
        columns = [str(c) for c in getattr(model, "frame", {}).columns] if hasattr(model, "frame") else []
        if "customer_email" in columns:
            column = columns.index("customer_email")
            preview.profile_column(preview.transformed_view, column)
            preview.transformed_view.scrollTo(model.index(0, column))
    shoot("preview.png")

    history = window.panels.get("history")
    last_run = None
    if name is not None:
        for _ in range(2):
            if window.run_pipeline(name):
                finished = _wait(window.run_controller.runFinished, 300000)
                last_run = finished[1] if len(finished) > 1 else last_run
    window.docks["history"].show()
    window.docks["history"].raise_()
    if history is not None and hasattr(history, "historyLoaded"):
        _wait(history.historyLoaded, 5000)
        if last_run is not None and hasattr(history, "select_run"):
            history.select_run(last_run.run_id)
    shoot("history.png")
    if last_run is not None and history is not None and hasattr(history, "open_details"):
        dialog = history.open_details(last_run.run_id)
        if dialog is not None:
            dialog.show()
            _settle()
            dialog.grab().save(str(outdir / "history_details.png"))
            written.append("history_details.png")
            dialog.close()

    window.docks["log"].show()
    window.docks["log"].raise_()
    shoot("log.png")

    window.pipeline_editor.show_tab("rules")
    window.docks["problems"].show()
    window.docks["problems"].raise_()
    window.resizeDocks([window.docks["problems"]], [220], Qt.Orientation.Vertical)
    shoot("rules.png")
    window.close()
    window.run_controller.wait_for_all(60000)
    return written
