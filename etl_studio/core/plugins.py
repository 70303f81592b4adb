"""The four plugin registries and the loading of the built-in plugin modules."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from etl_studio.core.registry import Registry

if TYPE_CHECKING:
    from etl_studio.core.rules.base import QualityRule
    from etl_studio.core.sources.base import Source
    from etl_studio.core.steps.base import Step
    from etl_studio.core.targets.base import Target

T = TypeVar("T")


class BuiltinRegistry(Registry[T]):
    """A registry that imports its built-in plugin modules when it is first asked about them.

    Asking for one key (``get``, ``in``) imports the module named like the key (``csv_file`` ->
    ``sources/csv_file.py``), and every module of the package only when that does not register
    it (another module name, an old key in ``replaces``, an unknown key whose error lists the
    known ones); listing (``keys``, ``items``) imports them all. So a run loads the modules its
    pipeline uses, not openpyxl, httpx and the CDC decoder for a CSV -> PostgreSQL load.
    """

    def __init__(self, name: str, package: str) -> None:
        super().__init__(name)
        self.package = package
        self._complete = False
        self._lock = threading.RLock()

    def _load_all(self) -> None:
        if self._complete:
            return
        with self._lock:
            if self._complete:
                return
            package = importlib.import_module(self.package)
            for info in pkgutil.iter_modules(package.__path__):
                if not info.name.startswith("_"):
                    importlib.import_module(f"{package.__name__}.{info.name}")
            self._complete = True

    def _load_for(self, key: object) -> None:
        if self._complete or not isinstance(key, str) or self.resolve(key) in self._items:
            return
        module = f"{self.package}.{key}"
        if key.isidentifier() and not key.startswith("_") and module not in sys.modules:
            try:
                with self._lock:
                    importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name != module:
                    raise  # the plugin's module exists but lacks a dependency: say so, as a full load would
        if self.resolve(key) not in self._items:
            self._load_all()

    def get(self, key: str) -> T:
        self._load_for(key)
        return super().get(key)

    def __contains__(self, key: object) -> bool:
        self._load_for(key)
        return super().__contains__(key)

    def keys(self) -> list[str]:
        self._load_all()
        return super().keys()

    def items(self) -> Iterator[tuple[str, T]]:
        self._load_all()
        yield from super().items()


sources: BuiltinRegistry[type[Source]] = BuiltinRegistry("source", "etl_studio.core.sources")
steps: BuiltinRegistry[type[Step]] = BuiltinRegistry("step", "etl_studio.core.steps")
rules: BuiltinRegistry[type[QualityRule]] = BuiltinRegistry("rule", "etl_studio.core.rules")
targets: BuiltinRegistry[type[Target]] = BuiltinRegistry("target", "etl_studio.core.targets")

REGISTRIES: dict[str, Registry[Any]] = {"source": sources, "step": steps, "rule": rules, "target": targets}


def load_builtin_plugins(*, everything: bool = False) -> None:
    """Make the built-in plugins available through the registries.

    The registries import a plugin's module when it is first looked up, and all of a kind's
    modules when they are listed, so this costs nothing by default; ``everything=True`` imports
    every module now (e.g. before timing-sensitive work that will list them anyway).
    """
    if everything:
        for registry in (sources, steps, rules, targets):
            registry._load_all()  # noqa: SLF001 - the registries are this module's own
