"""The 'regex' rule: text must match a pattern in full (or a preset such as e-mail)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from etl_studio.core.lazy import sqlglot_expressions as sx
from pydantic import Field, field_validator, model_validator

from etl_studio.core import casting
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
        failing = _failing(values, pattern)
        return reasons_where(chunk.index, failing, lambda rows: shown(values[rows]) + " " + wording)

    def to_sql(self, dialect: str) -> str | None:
        pattern, _ = self.config.regex()
        test = sx.RegexpLike(this=column(self.config.column), expression=sx.Literal.string(f"^(?:{pattern})$"))
        try:
            return null_or(self.config.column, test, dialect)
        except Exception:  # noqa: BLE001 - a dialect without regular expressions
            return None


# ---------------------------------------------------------------- matching

def _failing(values: pd.Series, pattern: str) -> np.ndarray:
    """True for the non-NULL values that do not match ``pattern`` in full."""
    re2 = re2_form(pattern)
    if re2 is not None and _is_arrow_text(values) and (not re2.needs_ascii or _all_ascii(values)):
        matched = pc.match_substring_regex(casting.to_arrow(values), re2.pattern)
        return np.asarray(pc.invert(pc.fill_null(matched, True)).to_numpy(zero_copy_only=False), dtype=bool)
    # Python's re: the pattern is a Python regex (RE2 lacks look-arounds, back-references ...).
    text = values.astype(pd.StringDtype("python"))
    return ~text.str.fullmatch(pattern).fillna(True).to_numpy(dtype=bool)


@dataclass(frozen=True)
class Re2Form:
    pattern: str  # anchored for a full match
    needs_ascii: bool  # \d \w \b mean more in Python on non-ASCII text: only ASCII values may use RE2


# Escapes that mean the same character in Python's re and in RE2; \d \w \b (and their negations)
# mean the same only on ASCII text; \s never does (Python's includes \x1c-\x1f, RE2's lacks \v).
_SAME_ESCAPES = set("tnrfv")
_ASCII_ESCAPES = set("dDwWbB")
_QUANTIFIERS = set("*+?}")


@functools.lru_cache(maxsize=256)
def re2_form(pattern: str) -> Re2Form | None:
    r"""The pattern for Arrow's RE2, or None when RE2 might decide a value differently than Python's re.

    Only a plain subset goes to RE2: ASCII patterns of literals, classes, groups (?:...),
    alternation and greedy or lazy repetition. Anchors, flags, look-arounds, back-references,
    possessive repetition, POSIX classes and \s stay with Python, as does a pattern RE2 cannot compile.
    """
    if not pattern.isascii() or "[:" in pattern or "{," in pattern:
        return None
    needs_ascii = False
    in_class = False
    i = 0
    previous = ""
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 >= len(pattern):
                return None
            escaped = pattern[i + 1]
            if escaped in _ASCII_ESCAPES and not (in_class and escaped in "bB"):
                needs_ascii = True
            elif not (escaped in _SAME_ESCAPES or not escaped.isalnum()):
                return None  # \s \A \Z \1 \x.. \u.. \N{..} \0 ...
            previous = "\\" + escaped
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            # a ']' first in the class (after an optional '^') is a literal in both
            j = i + 1 + (pattern[i + 1:i + 2] == "^")
            if pattern[j:j + 1] == "]":
                i = j
        elif c in "$^":
            return None
        elif c == "(" and pattern[i + 1:i + 2] == "?" and pattern[i + 2:i + 3] != ":":
            return None
        elif c == "+" and previous in _QUANTIFIERS:
            return None  # possessive (Python 3.11+); RE2 reads it differently or not at all
        previous = c
        i += 1
    anchored = f"^(?:{pattern})$"
    try:
        pc.match_substring_regex(pa.array(["", "a"]), anchored)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return Re2Form(anchored, needs_ascii)


def _is_arrow_text(values: pd.Series) -> bool:
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype):
        return dtype.storage == "pyarrow"
    return isinstance(dtype, pd.ArrowDtype) and (pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(dtype.pyarrow_dtype))


def _all_ascii(values: pd.Series) -> bool:
    return bool(pc.all(pc.fill_null(pc.string_is_ascii(casting.to_arrow(values)), True)).as_py())
