"""The 'date_range' rule: a date must lie between absolute or relative ('today-30d') limits."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pandas as pd
from etl_studio.core.lazy import sqlglot_expressions as sx
from pydantic import Field, field_validator, model_validator

from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import rules
from etl_studio.core.rules._reasons import column, null_or, reasons_where, shown
from etl_studio.core.rules.base import QualityRule
from etl_studio.core.steps._columns import is_text, require_columns

_RELATIVE = re.compile(r"^today(?:\s*([+-])\s*(\d+)\s*([dw]))?$")


def resolve_date(text: str, today: date) -> date:
    """'2024-01-31', 'today', 'today-30d', 'today+2w' -> a date; ValueError saying what is accepted."""
    cleaned = text.strip().lower()
    match = _RELATIVE.match(cleaned)
    if match:
        sign, amount, unit = match.groups()
        if sign is None:
            return today
        days = int(amount) * (7 if unit == "w" else 1)
        return today + timedelta(days=days if sign == "+" else -days)
    try:
        return date.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(
            f"'{text}' is not a date: use YYYY-MM-DD, 'today', or 'today-30d' / 'today+2w'"
        ) from None


class DateRangeConfig(PluginConfig):
    column: str = Field(description="The date or date-time column to check (ISO text is read as a date).")
    min: str | None = Field(default=None, description="Earliest allowed date: YYYY-MM-DD, 'today' or e.g. 'today-30d'; empty: none.")
    max: str | None = Field(default=None, description="Latest allowed date, same forms (e.g. 'today' for no future dates); empty: none.")

    @field_validator("min", "max")
    @classmethod
    def _readable(cls, value: str | None) -> str | None:
        if value is not None:
            resolve_date(value, date.today())
        return value

    @model_validator(mode="after")
    def _limits(self) -> DateRangeConfig:
        if self.min is None and self.max is None:
            raise ValueError("give a min, a max or both")
        today = date.today()
        if self.min is not None and self.max is not None and resolve_date(self.min, today) > resolve_date(self.max, today):
            raise ValueError(f"min {self.min} is after max {self.max}")
        return self


@rules.register("date_range")
class DateRange(QualityRule):
    """Both limits inclusive and by calendar day (a time on the max day passes). 'today' is fixed
    when the rule is built, once per run, so a run crossing midnight judges every row alike."""

    config_model = DateRangeConfig
    title = "Date range"
    description = "A date must lie between two dates, absolute (2024-01-01) or relative to the run (today-30d)."
    config: DateRangeConfig

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        today = datetime.now().date()
        cfg = self.config
        self.min_date = resolve_date(cfg.min, today) if cfg.min is not None else None
        self.max_date = resolve_date(cfg.max, today) if cfg.max is not None else None

    def columns(self) -> list[str]:
        return [self.config.column]

    def check(self, chunk: pd.DataFrame) -> pd.Series:
        require_columns(f"rule {self.name}", self.columns(), chunk.columns)
        values = chunk[self.config.column]
        days = _as_days(values)
        present = values.notna().to_numpy(dtype=bool)
        messages = pd.Series([None] * len(chunk), index=chunk.index, dtype=object)
        bad = present & days.isna().to_numpy(dtype=bool)
        messages[bad] = (shown(values)[bad] + " is not a date").to_numpy(dtype=object)
        failing = bad.copy()
        label = days.dt.strftime("%Y-%m-%d")
        if self.min_date is not None:
            early = (days < pd.Timestamp(self.min_date)).fillna(False).to_numpy(dtype=bool)
            messages[early] = (label[early] + f" is before the earliest date {self.min_date.isoformat()}").to_numpy(dtype=object)
            failing |= early
        if self.max_date is not None:
            late = (days > pd.Timestamp(self.max_date)).fillna(False).to_numpy(dtype=bool)
            messages[late] = (label[late] + f" is after the latest date {self.max_date.isoformat()}").to_numpy(dtype=object)
            failing |= late
        return reasons_where(chunk.index, failing, messages)

    def to_sql(self, dialect: str) -> str | None:
        tests: list[sx.Expression] = []
        subject = sx.cast(column(self.config.column), "DATE")
        if self.min_date is not None:
            tests.append(sx.GTE(this=subject.copy(), expression=sx.cast(sx.Literal.string(self.min_date.isoformat()), "DATE")))
        if self.max_date is not None:
            tests.append(sx.LTE(this=subject.copy(), expression=sx.cast(sx.Literal.string(self.max_date.isoformat()), "DATE")))
        return null_or(self.config.column, sx.and_(*tests), dialect)


def _as_days(values: pd.Series) -> pd.Series:
    """Midnight of each value's calendar day (wall-clock, time zone dropped); NaT if unreadable."""
    if is_text(values) or values.dtype == object:
        parsed = pd.to_datetime(values.astype("string").str.strip(), format="ISO8601", errors="coerce")
        if parsed.isna().sum() > values.isna().sum() and values.dtype == object:
            # object columns may hold date/datetime objects, which ISO parsing of their text covers,
            # and mixed content, which stays NaT
            parsed = pd.to_datetime(values, errors="coerce")
    else:
        parsed = pd.to_datetime(values, errors="coerce")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed.dt.normalize()
