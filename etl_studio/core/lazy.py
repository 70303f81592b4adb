"""Modules imported on first use: a project's plugin modules are loaded to check its file, but most
runs never build SQL from a rule (sqlglot alone is 50 to 80 ms of every start-up)."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule(ModuleType):
    """Stands for the module ``name`` and imports it when an attribute is first asked for."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_module"] = None

    def __getattr__(self, attribute: str) -> Any:
        module = self.__dict__["_module"]
        if module is None:
            module = self.__dict__["_module"] = importlib.import_module(self.__name__)
        return getattr(module, attribute)


sqlglot_expressions: Any = LazyModule("sqlglot.expressions")
