"""Registry[T]: plugins (sources, steps, rules, targets) registered under stable string keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownPluginError(KeyError):
    """A project names a plugin key that no module registered."""

    def __init__(self, registry: str, key: str, known: list[str]) -> None:
        self.registry, self.key, self.known = registry, key, known
        super().__init__(key)

    def __str__(self) -> str:
        return f"unknown {self.registry} kind '{self.key}' (known: {', '.join(self.known)})"


class Registry(Generic[T]):
    """Maps stable keys (as written in project files) to plugin classes.

    Keys are part of the file format: never rename one; register the new name and keep
    the old one in ``replaces`` so older files still resolve.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def register(self, key: str, *, replaces: tuple[str, ...] = ()) -> Callable[[T], T]:
        def decorator(item: T) -> T:
            if key in self._items and self._items[key] is not item:
                raise ValueError(f"{self.name} key '{key}' is registered twice")
            self._items[key] = item
            try:
                setattr(item, "kind", key)
            except (AttributeError, TypeError):  # pragma: no cover - plain functions etc.
                pass
            for old in replaces:
                self._aliases[old] = key
            return item

        return decorator

    def resolve(self, key: str) -> str:
        return self._aliases.get(key, key)

    def get(self, key: str) -> T:
        real = self.resolve(key)
        try:
            return self._items[real]
        except KeyError:
            raise UnknownPluginError(self.name, key, sorted(self._items)) from None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.resolve(key) in self._items

    def keys(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        yield from sorted(self._items.items())
