"""Pydantic models of a project: the single source of truth for what a project file may hold."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CURRENT_SCHEMA_VERSION = 1
FORMAT_NAME = "etl-studio-project"

# A secret is never stored, only a reference to where it lives.
SECRET_REFERENCE = re.compile(r"^(\$\{[A-Za-z_][A-Za-z0-9_]*\}|keyring:[^/\s]+/[^/\s]+)$")
_NAME = re.compile(r"^[^\s].*$")
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Model(BaseModel):
    # Typos in a hand-edited file must be reported, not ignored.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class PluginSpec(_Model):
    """A source, step, rule or target: a stable registry key and that plugin's config."""

    kind: str
    config: dict[str, Any] = Field(default_factory=dict)


class StepSpec(PluginSpec):
    enabled: bool = True


class RuleSpec(PluginSpec):
    """A quality rule. ``name`` is what quarantined rows and run results cite."""

    name: str
    severity: Literal["error", "warning"] = "error"
    action: Literal["quarantine", "fail"] = "quarantine"
    enabled: bool = True


class TargetColumn(_Model):
    """A column of the target table, fed by a source column or an expression (or unmapped)."""

    name: str
    type: str = "string"
    nullable: bool = True
    source: str | None = None
    expr: str | None = None
    description: str = ""

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        from etl_studio.core.types import parse_type

        parse_type(value)  # raises ValueError with the reason
        return value

    @model_validator(mode="after")
    def _one_feed(self) -> TargetColumn:
        if self.source is not None and self.expr is not None:
            raise ValueError(f"column '{self.name}' has both 'source' and 'expr'; keep one")
        return self

    @property
    def is_mapped(self) -> bool:
        return self.source is not None or self.expr is not None


class Schedule(_Model):
    """When a pipeline runs by itself (the scheduling issue extends this)."""

    cron: str | None = None
    interval_seconds: int | None = Field(default=None, gt=0)
    at: datetime | None = None
    timezone: str = "UTC"
    enabled: bool = True
    retries: int = Field(default=0, ge=0)
    retry_backoff_seconds: float = Field(default=30.0, gt=0)
    retry_max_delay_seconds: float = Field(default=600.0, gt=0)
    timeout_seconds: float | None = Field(default=None, gt=0)
    misfire_grace_seconds: int = Field(default=300, ge=0)
    catch_up: Literal["once", "skip"] = "once"
    # "Loaded by 06:00": each day, a successful run must have finished by this time
    # (HH:MM in ``timezone``); a miss is recorded and notified.
    sla: str | None = None

    @field_validator("sla")
    @classmethod
    def _sla_is_a_time_of_day(cls, value: str | None) -> str | None:
        if value is not None and not _TIME_OF_DAY.match(value):
            raise ValueError(f"an SLA is a time of day as HH:MM (e.g. 06:00), not {value!r}")
        return value

    @model_validator(mode="after")
    def _one_trigger(self) -> Schedule:
        given = [n for n in ("cron", "interval_seconds", "at") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("a schedule needs exactly one of 'cron', 'interval_seconds' or 'at'")
        return self


class Incremental(_Model):
    """Incremental extraction: each run reads only the rows newer than the last committed watermark."""

    column: str = Field(min_length=1, description="Source column that grows with every new or changed row (e.g. updated_at or id).")
    kind: Literal["timestamp", "id"] = Field(
        "timestamp", description="timestamp: the column holds dates/times; id: the column holds increasing whole numbers."
    )
    initial_value: str | None = Field(
        None,
        description="Where the first run starts (inclusive), e.g. 2024-01-01 or 1000; empty: the first run reads everything.",
    )
    lookback: float = Field(
        0,
        ge=0,
        description=(
            "Re-read this much before the watermark to catch late rows: seconds for a timestamp column, "
            "ids for an id column. Use with a keyed load (upsert, merge, SCD2) so the overlap loads nothing twice."
        ),
    )


class Pipeline(_Model):
    name: str
    description: str = ""
    depends_on: list[str] = Field(default_factory=list)
    source: PluginSpec
    steps: list[StepSpec] = Field(default_factory=list)
    # Empty mapping: every column of the last step goes to the target as it is.
    mapping: list[TargetColumn] = Field(default_factory=list)
    rules: list[RuleSpec] = Field(default_factory=list)
    target: PluginSpec
    schedule: Schedule | None = None
    chunk_size: int | None = Field(default=None, gt=0)
    # Transient connection errors are retried this many times with exponential backoff.
    retries: int = Field(default=3, ge=0)
    # Read only rows newer than the watermark; None reads everything on every run.
    incremental: Incremental | None = None

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a pipeline needs a name")
        return value

    def target_column(self, name: str) -> TargetColumn | None:
        return next((c for c in self.mapping if c.name == name), None)


class Connection(_Model):
    """A database or folder. ``url`` is a SQLAlchemy URL that holds no password.

    Relative SQLite paths (``sqlite:///warehouse.db``) are relative to the project file.
    """

    name: str
    url: str
    password: str | None = None
    description: str = ""

    @field_validator("url")
    @classmethod
    def _no_literal_password(cls, value: str) -> str:
        try:
            parts = urlsplit(value)
            password = parts.password
        except ValueError:
            password = None
        if password and not SECRET_REFERENCE.match(password):
            raise ValueError(
                "the URL holds a literal password; project files never store secrets: "
                "write it as ${ENV_VAR} (an environment variable) or use the 'password' "
                "field with ${ENV_VAR} or keyring:service/user"
            )
        return value

    @field_validator("password")
    @classmethod
    def _password_is_reference(cls, value: str | None) -> str | None:
        if value is not None and not SECRET_REFERENCE.match(value):
            raise ValueError(
                "a password is stored as a reference, ${ENV_VAR} or keyring:service/user, "
                "never as the password itself"
            )
        return value


class EmailNotification(_Model):
    """Alerts by e-mail through an SMTP server; the password is a reference, never the secret."""

    smtp_host: str
    smtp_port: int = Field(default=587, gt=0, lt=65536)
    username: str | None = None
    password: str | None = None
    sender: str
    to: list[str] = Field(min_length=1)
    starttls: bool = True

    @field_validator("password")
    @classmethod
    def _password_is_reference(cls, value: str | None) -> str | None:
        if value is not None and not SECRET_REFERENCE.match(value):
            raise ValueError("an SMTP password is stored as a reference, ${ENV_VAR} or keyring:service/user")
        return value


class WebhookNotification(_Model):
    """A JSON POST (Slack-compatible ``text``). Webhook URLs are secrets: write them as ${ENV_VAR}."""

    url: str

    @field_validator("url")
    @classmethod
    def _url_or_reference(cls, value: str) -> str:
        if not (SECRET_REFERENCE.match(value) or value.startswith(("http://", "https://"))):
            raise ValueError("a webhook is an http(s) URL or a reference to one, ${ENV_VAR}")
        return value


class Notifications(_Model):
    """Who hears about runs, and of what: failures always unless left out, success and SLA misses on request."""

    email: EmailNotification | None = None
    webhooks: list[WebhookNotification] = Field(default_factory=list)
    on: list[Literal["failure", "success", "sla_miss"]] = Field(default_factory=lambda: ["failure"])


class Project(_Model):
    format: Literal["etl-studio-project"] = FORMAT_NAME
    schema_version: int = CURRENT_SCHEMA_VERSION
    name: str = "Untitled project"
    description: str = ""
    # State database (run history, logs, watermarks): a SQLAlchemy URL; None means
    # SQLite in a hidden folder beside the project file.
    state_database: str | None = None
    connections: list[Connection] = Field(default_factory=list)
    pipelines: list[Pipeline] = Field(default_factory=list)
    notifications: Notifications | None = None

    def pipeline(self, name: str) -> Pipeline:
        for pipeline in self.pipelines:
            if pipeline.name == name:
                return pipeline
        known = ", ".join(p.name for p in self.pipelines) or "none"
        from etl_studio.core.errors import InvalidInputError

        raise InvalidInputError(f"no pipeline named '{name}' (pipelines: {known})")

    def connection(self, name: str) -> Connection:
        for connection in self.connections:
            if connection.name == name:
                return connection
        known = ", ".join(c.name for c in self.connections) or "none"
        from etl_studio.core.errors import InvalidInputError

        raise InvalidInputError(f"no connection named '{name}' (connections: {known})")
