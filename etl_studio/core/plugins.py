"""The four plugin registries and the loading of the built-in plugin modules."""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any

from etl_studio.core.registry import Registry

if TYPE_CHECKING:
    from etl_studio.core.rules.base import QualityRule
    from etl_studio.core.sources.base import Source
    from etl_studio.core.steps.base import Step
    from etl_studio.core.targets.base import Target

sources: Registry[type[Source]] = Registry("source")
steps: Registry[type[Step]] = Registry("step")
rules: Registry[type[QualityRule]] = Registry("rule")
targets: Registry[type[Target]] = Registry("target")

REGISTRIES: dict[str, Registry[Any]] = {"source": sources, "step": steps, "rule": rules, "target": targets}
_PACKAGES = ("sources", "steps", "rules", "targets")
_loaded = False


def load_builtin_plugins() -> None:
    """Import every module of the plugin packages so their @register decorators run."""
    global _loaded
    if _loaded:
        return
    for package_name in _PACKAGES:
        package = importlib.import_module(f"etl_studio.core.{package_name}")
        for info in pkgutil.iter_modules(package.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{package.__name__}.{info.name}")
    _loaded = True
