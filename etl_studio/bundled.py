"""Where the files bundled with the app are: its icons, style sheet and demo projects.

They live in the repository's top-level ``resources/``. A wheel carries that folder inside the
package, as ``etl_studio/resources`` (pyproject: ``force-include``); a source checkout or an
editable install finds it beside the package.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resources_dir(package: Path = _PACKAGE) -> Path:
    """The bundled resources of the package installed at ``package``: inside it (a wheel) or beside it (a checkout)."""
    inside = package / "resources"
    return inside if inside.is_dir() else package.parent / "resources"


RESOURCES = resources_dir()
DEMO_PROJECT = RESOURCES / "examples" / "orders" / "orders.etlproj"
