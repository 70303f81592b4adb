"""Scheduling fixtures: small CSV-to-SQLite projects, a running scheduler, and real SMTP/HTTP servers on 127.0.0.1."""

from __future__ import annotations

import csv
import json
import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from etl_studio.core.project import Connection, Pipeline, PluginSpec, Project, TargetColumn, save_project
from etl_studio.core.project.models import Schedule
from etl_studio.core.scheduling import SchedulerService


def write_csv(path: Path, rows: int = 20) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "amount"])
        writer.writerows([i, f"{i}.25"] for i in range(rows))
    return path


def pipeline(name: str, *, csv_name: str | None = None, depends_on: list[str] | None = None, schedule: Schedule | None = None,
             chunk_size: int | None = None) -> Pipeline:
    return Pipeline(
        name=name,
        depends_on=depends_on or [],
        source=PluginSpec(kind="csv_file", config={"path": csv_name or f"{name}.csv"}),
        mapping=[TargetColumn(name="id", type="integer", source="id", nullable=False),
                 TargetColumn(name="amount", type="decimal(10,2)", source="amount"),
                 TargetColumn(name="run_date", type="date", expr=":run_date")],
        target=PluginSpec(kind="sql_table", config={"connection": "warehouse", "table": name, "mode": "replace"}),
        schedule=schedule,
        chunk_size=chunk_size,
        retries=0,
    )


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., tuple[Project, Path]]:
    """A project file in tmp_path whose pipelines load CSVs (written unless missing=True) into SQLite."""

    def make(*pipelines: Pipeline, missing: tuple[str, ...] = (), rows: int = 20, **extra: Any) -> tuple[Project, Path]:
        for p in pipelines:
            name = p.source.config["path"]
            if name not in missing and not (tmp_path / name).exists():
                write_csv(tmp_path / name, rows)
        project = Project(name="Scheduling test", connections=[Connection(name="warehouse", url="sqlite:///warehouse.db")],
                          pipelines=list(pipelines), **extra)
        path = save_project(project, tmp_path / "project.etlproj")
        return project, path

    return make


@pytest.fixture
def services() -> Iterator[list[SchedulerService]]:
    """Services a test starts; all stopped (cancelling runs) at the end, whatever happened."""
    started: list[SchedulerService] = []
    yield started
    for service in started:
        service.stop(cancel_running=True)


# -- a real SMTP server (aiosmtpd is not installed; SMTP is a few lines over socketserver) ----------

@dataclass
class SmtpServer:
    host: str
    port: int
    messages: list[dict[str, Any]] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)


class _SmtpHandler(socketserver.StreamRequestHandler):
    def reply(self, text: str) -> None:
        self.wfile.write(text.encode("ascii") + b"\r\n")

    def handle(self) -> None:
        box: SmtpServer = self.server.box  # type: ignore[attr-defined]
        self.reply("220 127.0.0.1 test SMTP ready")
        sender, recipients, data, in_data = "", [], [], False
        while True:
            line = self.rfile.readline()
            if not line:
                return
            if in_data:
                if line.rstrip(b"\r\n") == b".":
                    in_data = False
                    box.messages.append({"from": sender, "to": recipients, "data": b"".join(data).decode("utf-8", "replace")})
                    box.received.set()
                    self.reply("250 queued")
                else:
                    data.append(line[1:] if line.startswith(b"..") else line)
                continue
            command = line.decode("ascii", "replace").strip()
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 127.0.0.1")
            elif verb == "MAIL":
                sender, recipients, data = command.split(":", 1)[1].strip(), [], []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip())
                self.reply("250 OK")
            elif verb == "DATA":
                in_data = True
                self.reply("354 end with <CRLF>.<CRLF>")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpHandler)
    server.daemon_threads = True
    box = SmtpServer("127.0.0.1", server.server_address[1])
    server.box = box  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box
    server.shutdown()
    server.server_close()


# -- a real HTTP server for webhooks ------------------------------------------------------------------

@dataclass
class HookServer:
    url: str
    posts: list[dict[str, Any]] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def http_server() -> Iterator[HookServer]:
    box = HookServer("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            box.posts.append({"path": self.path, "content_type": self.headers.get("Content-Type"), "json": json.loads(body)})
            box.received.set()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/etl"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box
    server.shutdown()
    server.server_close()
