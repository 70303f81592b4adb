"""Reading and writing .etlproj files: stable JSON, atomic saves with a backup, located errors."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from etl_studio.core.errors import Problem, ProjectFileError
from etl_studio.core.project.migrations import migrate
from etl_studio.core.project.models import FORMAT_NAME, Project

BACKUP_SUFFIX = ".bak"


def _json_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _friendly(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field (check the spelling)"
    if kind == "missing":
        return "required field is missing"
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


def validation_problems(error: ValidationError, prefix: str = "") -> list[Problem]:
    problems = []
    for item in error.errors():
        loc = tuple(item.get("loc", ()))
        path = _json_path(loc)
        if prefix:
            path = f"{prefix}.{path}" if path and not path.startswith("[") else prefix + path
        problems.append(Problem(path, _friendly(item)))
    return problems


def loads_project(text: str, *, source: str = "<project>") -> Project:
    """Parse, migrate and validate a project; every problem is named by its JSON path."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProjectFileError(source, [Problem(f"line {exc.lineno} column {exc.colno}", f"not valid JSON: {exc.msg}")]) from None
    if not isinstance(raw, dict):
        raise ProjectFileError(source, [Problem("", "a project file holds one JSON object")])
    if raw.get("format") != FORMAT_NAME:
        raise ProjectFileError(source, [Problem("format", f"expected \"{FORMAT_NAME}\"; is this an ETL Studio project?")])
    try:
        raw = migrate(raw)
    except (ValueError, KeyError) as exc:
        raise ProjectFileError(source, [Problem("schema_version", str(exc))]) from None
    try:
        project = Project.model_validate(raw)
    except ValidationError as exc:
        raise ProjectFileError(source, validation_problems(exc)) from None
    from etl_studio.core.project.validate import plugin_config_problems

    problems = plugin_config_problems(project)
    if problems:
        raise ProjectFileError(source, problems)
    return project


def load_project(path: str | os.PathLike[str]) -> Project:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProjectFileError(str(file), [Problem("", "file not found")]) from None
    except UnicodeDecodeError:
        raise ProjectFileError(str(file), [Problem("", "not a UTF-8 text file")]) from None
    except OSError as exc:
        raise ProjectFileError(str(file), [Problem("", f"cannot read: {exc.strerror}")]) from None
    return loads_project(text, source=str(file))


def dumps_project(project: Project) -> str:
    """The canonical text of a project: model field order, defaults left out, 2-space indent."""
    data = project.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    # Always written, even though they are defaults: a file must say what it is.
    data = {"format": project.format, "schema_version": project.schema_version, **data}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def save_project(project: Project, path: str | os.PathLike[str]) -> Path:
    """Atomically write the project; the previous version is kept as ``<file>.bak``."""
    file = Path(path)
    text = dumps_project(project)
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".tmp", dir=file.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if file.exists():
            backup = file.with_name(file.name + BACKUP_SUFFIX)
            # Copy, not rename: the file itself must exist at every instant.
            backup.write_bytes(file.read_bytes())
        os.replace(tmp_name, file)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    try:  # make the rename durable
        dir_fd = os.open(file.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # pragma: no cover - not every platform can fsync a directory
        pass
    return file
