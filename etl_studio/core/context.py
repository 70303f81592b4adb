"""What a plugin may use while it runs: the project folder, connections, run parameters, cancellation."""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etl_studio.core.errors import ConfigError, RunCancelled

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def resolve_secret(reference: str) -> str:
    """``${VAR}`` -> the environment variable; ``keyring:service/user`` -> the OS keyring."""
    if reference.startswith("keyring:"):
        service, _, user = reference[len("keyring:"):].partition("/")
        try:
            import keyring  # optional dependency
        except ImportError:
            raise ConfigError(f"{reference}: the 'keyring' package is not installed; use ${{ENV_VAR}} instead") from None
        value = keyring.get_password(service, user)
        if value is None:
            raise ConfigError(f"{reference}: no such entry in the system keyring")
        return value

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(f"environment variable {name} is not set (referenced as ${{{name}}})")
        return os.environ[name]

    return _ENV_REF.sub(substitute, reference)


def mask_secrets(text: str) -> str:
    """Hide passwords in URLs (``user:secret@host`` -> ``user:***@host``) before logging."""
    return re.sub(r"(?P<pre>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]+:)(?P<pw>[^@\s]+)@", r"\g<pre>***@", text)


@dataclass
class RunContext:
    """Handed to every source, step, rule and target of one run or preview."""

    project_dir: Path
    connections: Any  # etl_studio.core.connections.ConnectionPool; Any to avoid an import cycle
    params: dict[str, Any] = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("etl_studio.run"))
    preview: bool = False

    def resolve_path(self, path: str | os.PathLike[str]) -> Path:
        """Paths in a project file are relative to the project file."""
        candidate = Path(os.path.expanduser(str(path)))
        return candidate if candidate.is_absolute() else (self.project_dir / candidate)

    def check_cancelled(self) -> None:
        if self.cancel.is_set():
            raise RunCancelled("the run was cancelled")
