"""Fixtures for rule tests: a run context in a temporary project folder, text frames as CSV gives them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from etl_studio.core.context import RunContext


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext(project_dir=tmp_path, connections=None)


@pytest.fixture
def text_frame():
    """Build a frame of nullable text columns (None -> NULL), optionally with a source-row index."""

    def build(data: dict[str, list[object]], index: list[int] | None = None) -> pd.DataFrame:
        frame = pd.DataFrame({k: pd.array(v, dtype="string") for k, v in data.items()})
        if index is not None:
            frame.index = index
        return frame

    return build
