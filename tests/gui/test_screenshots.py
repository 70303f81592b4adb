"""`etl-studio screenshots`: the demo pictured in its four states, after two real runs."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QImage

from etl_studio.gui.screenshots import DEMO_PROJECT, render_screenshots


def test_screenshots_of_the_demo_project(qapp, tmp_path):
    demo_files_before = sorted(p.name for p in DEMO_PROJECT.parent.iterdir())
    written = render_screenshots(tmp_path / "shots")
    assert [p.name for p in written] == ["mapping.png", "preview.png", "history.png", "log.png"]
    for path in written:
        image = QImage(str(path))
        assert not image.isNull(), path
        assert image.width() >= 1200 and image.height() >= 800
        # a real picture has many colours; a blank or failed grab has one or two
        colours = {image.pixel(x, y) for x in range(0, image.width(), 37) for y in range(0, image.height(), 23)}
        assert len(colours) > 20, path
    # picturing the demo runs it in a copy: the demo folder itself is unchanged
    assert sorted(p.name for p in DEMO_PROJECT.parent.iterdir()) == demo_files_before


def test_screenshots_of_another_project_folder_leave_it_unchanged(qapp, tmp_path: Path):
    project_dir = tmp_path / "mine"
    project_dir.mkdir()
    for item in DEMO_PROJECT.parent.iterdir():
        if item.is_file() and item.suffix in (".csv", ".etlproj"):
            (project_dir / item.name).write_bytes(item.read_bytes())
    render_screenshots(tmp_path / "out", project_dir / DEMO_PROJECT.name)
    assert not (project_dir / ".etl_studio").exists()
    assert not (project_dir / "warehouse.db").exists()
