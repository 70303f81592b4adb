"""The engine's error types: what went wrong, said in one line an analyst can act on."""

from __future__ import annotations

from dataclasses import dataclass


class EtlError(Exception):
    """Base of every error the engine raises on purpose (never shown as a traceback)."""


class InvalidInputError(EtlError):
    """Bad input: a project file, a config value, a column name. CLI exit code 2."""


class ConfigError(InvalidInputError):
    """A plugin config or connection setting is wrong; the message names it."""


class DataError(EtlError):
    """The data broke a promise (a rule with action 'fail', a type). Never retried."""


class TransientError(EtlError):
    """A connection dropped or a server was briefly unavailable. Retried with backoff."""


class ConnectionFailedError(EtlError):
    """A database or service could not be reached or refused the credentials."""


class RunCancelled(EtlError):
    """The user or the scheduler cancelled the run between two chunks."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a project, at a JSON path such as ``pipelines[2].mapping[5].expr``."""

    path: str
    message: str
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ProjectFileError(InvalidInputError):
    """A project file cannot be read; lists every problem found, each with its place."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return f"{self.file}: {self.problems[0]}"
        lines = [f"{self.file}: {len(self.problems)} problems"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)
