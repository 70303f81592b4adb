"""Where the files bundled with the app are: its icons, style sheet and demo projects.

They live in the repository's top-level ``resources/``. A wheel carries that folder inside the
package, as ``etl_studio/resources`` (pyproject: the wheel's ``sources``); a source checkout or
an editable install finds it beside the package.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
APP_NAME = "ETL Studio"


def resources_dir(package: Path = _PACKAGE) -> Path:
    """The bundled resources of the package installed at ``package``: inside it (a wheel) or beside it (a checkout)."""
    inside = package / "resources"
    return inside if inside.is_dir() else package.parent / "resources"


_DEMO = Path("examples", "orders", "orders.etlproj")  # within the resources
RESOURCES = resources_dir()
DEMO_PROJECT = RESOURCES / _DEMO


def demo_project(package: Path = _PACKAGE, data_dir: Path | None = None) -> Path:
    """The demo project the app opens when it has no other.

    In a checkout, the bundled one. From an installed wheel, the user's own copy in the user
    data folder, made on first use: running the demo writes its SQLite output and run state
    beside the project, which must not happen inside site-packages (often not writable, and
    left behind by an uninstall). An existing copy is kept as the user left it. If no copy can
    be made, the bundled project is opened all the same.
    """
    resources = resources_dir(package)
    bundled = resources / _DEMO
    if resources.parent != package:  # a checkout: resources/ beside the package
        return bundled
    if data_dir is None:
        import platformdirs

        data_dir = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    copy = data_dir / "examples" / bundled.parent.name
    if (copy / bundled.name).is_file():
        return copy / bundled.name
    try:
        copy.parent.mkdir(parents=True, exist_ok=True)
        # Copied under a temporary name, then renamed: a copy cut short is never taken for the demo.
        with tempfile.TemporaryDirectory(dir=copy.parent, prefix=".demo-") as scratch:
            staged = Path(scratch) / copy.name
            shutil.copytree(bundled.parent, staged, ignore=shutil.ignore_patterns(".etl_studio", "*.db", "*.db-journal"))
            staged.rename(copy)
    except OSError:
        pass  # not writable, or another app instance made the copy first
    return copy / bundled.name if (copy / bundled.name).is_file() else bundled
