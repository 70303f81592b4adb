"""A wheel built from the repository carries what the app needs at run time: its icons, style
sheet and demo projects (resources/), found inside the installed package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from etl_studio.bundled import demo_project, resources_dir

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # --no-build-isolation: the build backend (hatchling, a test extra) is already installed, so
    # the build needs no download.
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
        capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (built,) = out.glob("etl_studio-*.whl")
    return built


def test_the_wheel_carries_the_resources_inside_the_package(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    bundled = [p.relative_to(REPO).as_posix() for p in (REPO / "resources").rglob("*")
               if p.is_file() and ".etl_studio" not in p.parts and not p.name.endswith((".db", ".db-journal"))]
    assert len(bundled) > 20  # icons, the style sheet, two demo projects and their data, screenshots
    for name in bundled:
        assert "etl_studio/" + name in names, f"{name} is missing from the wheel"
    assert "etl_studio/cli.py" in names and "etl_studio/py.typed" in names
    # nothing a checkout makes by running or testing: run state, SQLite outputs, bytecode
    assert not [n for n in names if "/.etl_studio/" in n or n.endswith((".db", ".pyc"))]
    assert not [n for n in names if not n.startswith(("etl_studio/", "etl_studio-"))]


def test_an_installed_wheel_finds_its_demo_project_icons_and_style(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "import etl_studio.bundled as b\n"
        "print(b.RESOURCES)\n"
        "print(b.DEMO_PROJECT.is_file(), (b.RESOURCES / 'icons' / 'app.svg').is_file(), (b.RESOURCES / 'styles' / 'app.qss').is_file())\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    where, found = done.stdout.splitlines()
    assert Path(where) == site / "etl_studio" / "resources"
    assert found == "True True True"


def test_a_checkout_finds_the_resources_beside_the_package(tmp_path: Path) -> None:
    package = tmp_path / "etl_studio"
    package.mkdir()
    assert resources_dir(package) == tmp_path / "resources"  # a source checkout, an editable install
    (package / "resources").mkdir()
    assert resources_dir(package) == package / "resources"  # a wheel
    assert resources_dir() == REPO / "resources"  # these tests run from the checkout


def _installed_package(root: Path) -> Path:
    """A package laid out as a wheel installs it: resources inside, a demo with run state beside it."""
    package = root / "site" / "etl_studio"
    demo = package / "resources" / "examples" / "orders"
    (demo / ".etl_studio").mkdir(parents=True)
    (demo / "orders.etlproj").write_text("{}", encoding="utf-8")
    (demo / "orders.csv").write_text("order_id\n1\n", encoding="utf-8")
    (demo / "warehouse.db").write_bytes(b"a run's output")
    (demo / ".etl_studio" / "state.db").write_bytes(b"a run's state")
    return package


def test_an_installed_app_opens_its_own_copy_of_the_demo_and_keeps_it(tmp_path: Path) -> None:
    package = _installed_package(tmp_path)
    data = tmp_path / "user-data"
    demo = demo_project(package, data)
    assert demo == data / "examples" / "orders" / "orders.etlproj"
    assert sorted(p.name for p in demo.parent.iterdir()) == ["orders.csv", "orders.etlproj"]  # no run state, no output
    assert [p.name for p in (data / "examples").iterdir()] == ["orders"]  # no staging folder left behind
    demo.write_text('{"edited": true}', encoding="utf-8")
    assert demo_project(package, data) == demo
    assert demo.read_text(encoding="utf-8") == '{"edited": true}'  # the user's copy is never overwritten


def test_without_a_writable_data_folder_the_bundled_demo_opens(tmp_path: Path) -> None:
    package = _installed_package(tmp_path)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("", encoding="utf-8")
    assert demo_project(package, blocked) == package / "resources" / "examples" / "orders" / "orders.etlproj"


def test_a_checkout_opens_the_demo_where_it_is(tmp_path: Path) -> None:
    assert demo_project(data_dir=tmp_path / "unused") == REPO / "resources" / "examples" / "orders" / "orders.etlproj"
    assert not (tmp_path / "unused").exists()
