"""The engine works without Qt: importing every module of etl_studio.core pulls in no PySide6."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = r"""
import importlib, pkgutil, sys

class NoQt:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PySide6", "shiboken6"):
            raise ImportError(f"etl_studio.core imported {name}")
        return None

sys.meta_path.insert(0, NoQt())
import etl_studio.core as core
count = 0
for info in pkgutil.walk_packages(core.__path__, "etl_studio.core."):
    importlib.import_module(info.name)
    count += 1
assert not [m for m in sys.modules if m.startswith(("PySide6", "shiboken6", "etl_studio.gui"))]
print(count)
"""


def test_every_core_module_imports_without_pyside6() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) > 20  # really walked the engine, not an empty package


def test_import_contracts_hold() -> None:
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run([lint], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken" in result.stdout
