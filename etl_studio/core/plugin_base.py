"""What every plugin has: a frozen pydantic config model and the run context."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from etl_studio.core.context import RunContext


class PluginConfig(BaseModel):
    """Base of every plugin config: frozen, and typos are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


C = TypeVar("C", bound=PluginConfig)


class Plugin(Generic[C]):
    kind: ClassVar[str]  # set by Registry.register
    config_model: ClassVar[type[PluginConfig]]
    title: ClassVar[str] = ""  # shown in the app's palettes, e.g. "CSV file"
    description: ClassVar[str] = ""  # one line, shown as a tooltip

    def __init__(self, config: C, context: RunContext) -> None:
        self.config = config
        self.context = context

    @classmethod
    def from_spec(cls, config: dict[str, Any], context: RunContext, **extra: Any) -> "Plugin[C]":
        return cls(cls.config_model.model_validate(config), context, **extra)  # type: ignore[arg-type]
