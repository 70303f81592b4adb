"""A PostgreSQL change data capture source in the app, against the real server: slot status, Create slot, Drop slot."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from PySide6.QtCore import Qt

from etl_studio.core.cdc.slots import drop_slot
from etl_studio.core.connections import build_url
from etl_studio.core.project import Connection, Pipeline, PluginSpec, Project, TargetColumn, save_project, load_project
from etl_studio.gui.editors.lookups import SlotState
from etl_studio.gui.panels.cdc_slot_box import CdcSlotBox
from etl_studio.gui.panels.pipeline_editor import PipelineEditor
from etl_studio.gui.project_document import ProjectDocument

from tests.gui._windows import save_shot, settle

WAIT_MS = 30_000

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(postgres_url: str, tmp_path: Path):
    engine = sa.create_engine(build_url(Connection(name="pg", url=postgres_url), tmp_path))
    yield engine
    engine.dispose()


@pytest.fixture
def cdc_editor(qtbot, tmp_path: Path, postgres_url: str, engine, table_name: str):
    slot = f"etl_gui_{uuid.uuid4().hex[:12]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"create table {table_name} (id integer primary key, name text)"))
    project = Project(
        connections=[Connection(name="pg", url=postgres_url), Connection(name="warehouse", url="sqlite:///warehouse.db")],
        pipelines=[Pipeline(
            name="orders_cdc",
            source=PluginSpec(kind="pg_cdc", config={"connection": "pg", "slot": slot, "table": table_name}),
            mapping=[TargetColumn(name="id", type="integer", nullable=False, source="id"), TargetColumn(name="name", source="name")],
            target=PluginSpec(kind="sql_table", config={"connection": "warehouse", "table": "orders", "mode": "cdc", "keys": ["id"]}),
        )],
    )
    path = save_project(project, tmp_path / "cdc.etlproj")
    document = ProjectDocument(load_project(path), path)
    widget = PipelineEditor(document)
    widget.resize(1000, 800)
    widget.show()
    widget.set_pipeline("orders_cdc")
    try:
        yield widget, slot
    finally:
        settle(widget)
        drop_slot(engine, slot, missing_ok=True)
        with engine.begin() as conn:
            conn.execute(sa.text(f"drop table if exists {table_name}"))


def _slot_exists(engine, slot: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.text("select 1 from pg_replication_slots where slot_name = :s"), {"s": slot}).first() is not None


def _box(editor: PipelineEditor) -> CdcSlotBox:
    return editor.source_editor.cdc_box


def test_a_cdc_source_shows_its_slot_and_no_incremental_settings(qtbot, cdc_editor) -> None:
    editor, slot = cdc_editor
    box = _box(editor)
    assert box.isVisible()
    assert not editor.source_editor.incremental_editor.isVisible()
    qtbot.waitUntil(lambda: box.state is not None, timeout=WAIT_MS)
    assert box.status_text.text() == f"Slot {slot} does not exist yet: click Create slot before the first run."
    assert box.create_button.isEnabled() and not box.drop_button.isEnabled()
    # The target in mode cdc is what a CDC source needs: no warning there.
    assert editor.target_editor.cdc_warning.isHidden()


def test_create_then_drop_the_slot_from_the_source_editor(qtbot, cdc_editor, engine) -> None:
    editor, slot = cdc_editor
    box = _box(editor)
    qtbot.waitUntil(lambda: box.create_button.isEnabled(), timeout=WAIT_MS)
    qtbot.mouseClick(box.create_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: box.message.text().startswith("✓ Created slot"), timeout=WAIT_MS)
    assert _slot_exists(engine, slot)
    assert box.status_text.text().startswith(f"Slot {slot} (test_decoding")
    assert box.drop_button.isEnabled() and not box.create_button.isEnabled()
    editor.source_editor.form_area.ensureWidgetVisible(box)
    save_shot(editor, "cdc_source_editor.png")

    box.confirm_drop = lambda text: False  # type: ignore[method-assign]
    qtbot.mouseClick(box.drop_button, Qt.MouseButton.LeftButton)
    assert _slot_exists(engine, slot)  # cancelled

    asked: list[str] = []
    box.confirm_drop = lambda text: asked.append(text) or True  # type: ignore[method-assign]
    qtbot.mouseClick(box.drop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: box.message.text().startswith("✓ Dropped slot"), timeout=WAIT_MS)
    assert "Changes not loaded yet are lost" in asked[0]
    assert not _slot_exists(engine, slot)
    assert box.create_button.isEnabled()


def test_a_slot_that_exists_already_is_said_in_one_line(qtbot, cdc_editor, engine) -> None:
    editor, slot = cdc_editor
    box = _box(editor)
    qtbot.waitUntil(lambda: box.create_button.isEnabled(), timeout=WAIT_MS)
    from etl_studio.core.cdc.slots import create_slot

    create_slot(engine, slot)  # made elsewhere (the command line) after the editor looked
    qtbot.mouseClick(box.create_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: box.message.text().startswith("✗"), timeout=WAIT_MS)
    assert box.message.text() == f"✗ replication slot '{slot}' already exists"
    qtbot.mouseClick(box.check_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: box.drop_button.isEnabled(), timeout=WAIT_MS)


def test_a_server_without_logical_wal_says_how_to_enable_it(qtbot, cdc_editor) -> None:
    editor, slot = cdc_editor
    box = _box(editor)
    qtbot.waitUntil(lambda: box.state is not None, timeout=WAIT_MS)
    from etl_studio.core.cdc.slots import wal_level_problem

    # This server has wal_level=logical; what the box shows for one that has not:
    box._show(SlotState(slot, None, wal_level_problem("replica")), "")
    assert "ALTER SYSTEM SET wal_level = logical" in box.message.text()
    assert not box.create_button.isEnabled()


def test_the_target_editor_flags_a_cdc_source_loaded_in_another_mode(qtbot, cdc_editor) -> None:
    editor, _slot = cdc_editor
    combo = editor.target_editor.form.editors["mode"].widget
    combo.setCurrentIndex(combo.findText("upsert"))
    warning = editor.target_editor.cdc_warning
    assert not warning.isHidden() and "mode 'cdc'" in warning.text()
