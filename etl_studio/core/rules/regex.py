"""The 'regex' rule: text must match a pattern in full (or a preset such as e-mail)."""

from __future__ import annotations

import re
from typing import Literal

import pandas as pd
import sqlglot.expressions as sx
from pydantic import Field, field_validator, model_validator

from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import rules
from etl_studio.core.rules._reasons import column, null_or, reasons_where, shown
from etl_studio.core.rules.base import QualityRule
from etl_studio.core.steps._columns import require_columns

# Pragmatic, not RFC 5322: one @, no spaces, a dot in the domain, labels not starting or
# ending with a dot. It accepts what mail servers accept in practice (plus tags, subdomains).
PRESETS: dict[str, tuple[str, str]] = {
    "email": (
        r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
        r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}",
        "is not a valid e-mail address",
    ),
    "uuid": (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "is not a valid UUID"),
    "url": (r"https?://[^\s/$.?#][^\s]*", "is not a valid http(s) URL"),
    "digits": (r"[0-9]+", "is not made of digits only"),
}


class RegexConfig(PluginConfig):
    column: str = Field(description="The text column to check.")
    pattern: str | None = Field(default=None, description="A regular expression (Python syntax) the whole value must match.")
    preset: Literal["email", "uuid", "url", "digits"] | None = Field(
        default=None, description="A ready-made pattern instead: email, uuid, url or digits."
    )

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"the pattern is not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_of(self) -> RegexConfig:
        if (self.pattern is None) == (self.preset is None):
            raise ValueError("give either a pattern or a preset (e.g. 'email'), not both or neither")
        return self

    def regex(self) -> tuple[str, str]:
        """The pattern and how a failing value is described."""
        if self.preset is not None:
            return PRESETS[self.preset]
        return self.pattern or "", f"does not match the pattern {self.pattern}"


@rules.register("regex")
class Regex(QualityRule):
    """Full match, case-sensitive (put (?i) in the pattern to ignore case); NULL passes."""

    config_model = RegexConfig
    title = "Pattern"
    description = "Text must match a regular expression in full, or a preset such as e-mail address."
    config: RegexConfig

    def columns(self) -> list[str]:
        return [self.config.column]

    def check(self, chunk: pd.DataFrame) -> pd.Series:
        require_columns(f"rule {self.name}", self.columns(), chunk.columns)
        pattern, wording = self.config.regex()
        values = chunk[self.config.column]
        # Python storage: the pattern is a Python regex (pyarrow's RE2 lacks look-arounds).
        text = values.astype(pd.StringDtype("python"))
        failing = ~text.str.fullmatch(pattern).fillna(True).to_numpy(dtype=bool)
        return reasons_where(chunk.index, failing, shown(values) + " " + wording)

    def to_sql(self, dialect: str) -> str | None:
        pattern, _ = self.config.regex()
        test = sx.RegexpLike(this=column(self.config.column), expression=sx.Literal.string(f"^(?:{pattern})$"))
        try:
            return null_or(self.config.column, test, dialect)
        except Exception:  # noqa: BLE001 - a dialect without regular expressions
            return None
