"""The Step contract: chunk in, chunk out; steps that need all rows say so and flush at the end."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import pandas as pd

from etl_studio.core.plugin_base import Plugin, PluginConfig


class Step(Plugin[PluginConfig]):
    # True for steps that can only emit after seeing every row (aggregate, sort).
    needs_all_rows: ClassVar[bool] = False

    @abstractmethod
    def output_columns(self, columns: list[str]) -> list[str]:
        """The column names after this step, given those before it.

        Raise ConfigError naming any unknown column (this is how validate finds them
        without reading data).
        """

    @abstractmethod
    def process(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """Transform one chunk. Keep the index of the rows that survive (quarantine cites it)."""

    def finish(self) -> pd.DataFrame | None:
        """After the last chunk: what a blocking step still holds, else None."""
        return None

    def to_sql(self, dialect: str) -> str | None:
        """This step as SQL for in-database runs, or None when it cannot be expressed."""
        return None
