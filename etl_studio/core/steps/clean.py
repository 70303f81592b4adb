"""The 'clean' step: trim text, turn null tokens into NULL, change case, fill defaults."""

from __future__ import annotations

from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator

from etl_studio.core.errors import ConfigError
from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import steps
from etl_studio.core.steps._columns import is_text, require_columns, visible
from etl_studio.core.steps.base import Step

DEFAULT_NULL_TOKENS = ("", "NULL", "null", "N/A", "n/a", "NA", "None", "-")
CaseChange = Literal["lower", "upper", "title"]


class CleanConfig(PluginConfig):
    columns: list[str] = Field(
        default_factory=list,
        description="Text columns to trim and scan for null tokens; empty means every text column.",
    )
    trim: bool = Field(default=True, description="Remove spaces and tabs at both ends of text values.")
    null_tokens: list[str] = Field(
        default_factory=lambda: list(DEFAULT_NULL_TOKENS),
        description="Text values (compared after trimming, case-sensitive) that mean 'no value' and become NULL.",
    )
    case: dict[str, CaseChange] = Field(
        default_factory=dict, description="Per column: change text to 'lower', 'upper' or 'title' case."
    )
    defaults: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Per column: the value that replaces NULL (after null tokens are applied)."
    )

    @field_validator("columns")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        repeated = sorted({c for c in value if value.count(c) > 1})
        if repeated:
            raise ValueError(f"column '{repeated[0]}' is listed twice")
        return value


@steps.register("clean")
class Clean(Step):
    """Vectorised text clean-up; columns it is not told about are left exactly as they are."""

    config_model = CleanConfig
    title = "Clean"
    description = "Trim text, turn null tokens such as 'N/A' into NULL, change case, fill defaults."
    config: CleanConfig

    def output_columns(self, columns: list[str]) -> list[str]:
        cfg = self.config
        require_columns("clean", [*cfg.columns, *cfg.case, *cfg.defaults], columns)
        return list(columns)

    def process(self, chunk: pd.DataFrame) -> pd.DataFrame:
        cfg = self.config
        self.output_columns(list(chunk.columns))
        out = chunk.copy(deep=False)  # copy-on-write: the columns replaced below are new, the rest shared
        targets = cfg.columns or [c for c in visible(out.columns) if is_text(out[c])]
        tokens = list(cfg.null_tokens)
        for name in targets:
            if not is_text(out[name]):
                continue  # a listed numeric column has nothing to trim; leave its type alone
            values = out[name]
            if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
                out[name] = _clean_arrow_text(values, cfg.trim, tokens)
                continue
            if cfg.trim:
                values = values.str.strip()
            if tokens:
                values = values.mask(values.isin(tokens))
            out[name] = values
        for name, change in cfg.case.items():
            if not is_text(out[name]):
                raise ConfigError(f"clean: cannot change the case of column '{name}': it holds {out[name].dtype} values, not text")
            out[name] = getattr(out[name].str, change)()
        for name, value in cfg.defaults.items():
            out[name] = self._fill(out[name], name, value)
        return out

    @staticmethod
    def _fill(values: pd.Series, name: str, value: str | int | float | bool) -> pd.Series:
        if is_text(values):
            return values.fillna(str(value))
        try:
            filled = pd.Series([value], dtype=values.dtype)
        except (TypeError, ValueError):
            raise ConfigError(
                f"clean: default {value!r} does not fit column '{name}', which holds {values.dtype} values"
            ) from None
        return values.fillna(filled.iloc[0])


def _clean_arrow_text(values: pd.Series, trim: bool, tokens: list[str]) -> pd.Series:
    """Trim and null tokens on the Arrow data itself: what ``.str.strip()`` and ``.mask(isin)`` do, in one pass."""
    data = values.array._pa_array  # noqa: SLF001 - the Arrow data behind pandas' pyarrow strings
    if trim:
        data = pc.utf8_trim_whitespace(data)
    if tokens:
        hit = pc.is_in(data, value_set=pa.array(tokens, type=data.type))
        if pc.any(hit).as_py():
            data = pc.if_else(hit, pa.scalar(None, data.type), data)
    if data is values.array._pa_array:  # noqa: SLF001
        return values
    return pd.Series(pd.array(data, dtype=values.dtype), index=values.index, name=values.name, copy=False)
