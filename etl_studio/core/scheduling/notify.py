"""Alerts about runs: e-mail through SMTP and JSON webhooks (Slack-compatible), secrets resolved from references."""

from __future__ import annotations

import logging
import smtplib
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Literal

from etl_studio.core.context import mask_secrets, resolve_secret
from etl_studio.core.errors import EtlError
from etl_studio.core.history.records import RunRecord
from etl_studio.core.project.models import Notifications

if TYPE_CHECKING:  # imported where a webhook is sent: starting the scheduler doesn't load httpx
    import httpx

log = logging.getLogger(__name__)

NoticeKind = Literal["failure", "success", "sla_miss"]
SEND_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class Notice:
    """One thing worth telling people about, already in words."""

    kind: NoticeKind
    project: str
    pipeline: str
    title: str
    text: str
    details: dict[str, Any] = field(default_factory=dict)


def run_notice(project: str, record: RunRecord) -> Notice:
    kind: NoticeKind = "success" if record.status.value == "succeeded" else "failure"
    if kind == "success":
        title = f"[ETL Studio] {project}: '{record.pipeline}' succeeded"
        text = f"'{record.pipeline}' loaded {record.rows_loaded:,} rows ({record.rows_quarantined:,} quarantined)."
    else:
        title = f"[ETL Studio] {project}: '{record.pipeline}' {record.status.value}"
        text = f"'{record.pipeline}' {record.status.value}: {record.error or 'no details'}"
    details = {
        "run_id": record.run_id, "status": record.status.value, "trigger": record.trigger,
        "error": record.error, "error_kind": record.error_kind, "rows_read": record.rows_read,
        "rows_loaded": record.rows_loaded, "rows_quarantined": record.rows_quarantined,
        "started_at": record.started_at.isoformat() if record.started_at else None,
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        "host": socket.gethostname(),
    }
    return Notice(kind, project, record.pipeline, title, text, details)


def sla_notice(project: str, pipeline: str, sla: str, tz: str, due_at: datetime, last_success: datetime | None) -> Notice:
    last = last_success.astimezone(timezone.utc).isoformat(timespec="seconds") if last_success else "never"
    return Notice(
        "sla_miss", project, pipeline,
        f"[ETL Studio] {project}: '{pipeline}' missed its SLA ({sla} {tz})",
        f"'{pipeline}' was not loaded by {sla} ({tz}); last successful run: {last}.",
        {"sla": sla, "timezone": tz, "due_at": due_at.isoformat(), "last_success_at": last_success.isoformat() if last_success else None,
         "host": socket.gethostname()},
    )


class Notifier:
    """Sends a notice to every configured channel; a broken channel is logged, never raised into the scheduler."""

    def __init__(self, settings: Notifications | None) -> None:
        self.settings = settings

    def wants(self, kind: NoticeKind) -> bool:
        return self.settings is not None and kind in self.settings.on and bool(self.settings.email or self.settings.webhooks)

    def send(self, notice: Notice) -> list[str]:
        """Deliver if the project asks for this kind; returns the problems (empty when all went out)."""
        if not self.wants(notice.kind):
            return []
        assert self.settings is not None
        problems: list[str] = []
        if self.settings.email is not None:
            try:
                self._send_email(notice)
            except (OSError, smtplib.SMTPException, EtlError) as exc:
                problems.append(f"e-mail to {', '.join(self.settings.email.to)}: {mask_secrets(str(exc))}")
        for hook in self.settings.webhooks:
            import httpx

            try:
                self._post(hook.url, notice)
            except (httpx.HTTPError, EtlError) as exc:
                # The resolved URL may itself be the secret: name the reference, not the URL.
                problems.append(f"webhook {hook.url if '${' in hook.url else _host_of(hook.url)}: {type(exc).__name__}: {_short(exc)}")
        for problem in problems:
            log.warning("notification not delivered: %s", problem)
        return problems

    def _send_email(self, notice: Notice) -> None:
        email = self.settings.email  # type: ignore[union-attr]
        assert email is not None
        message = EmailMessage()
        message["Subject"] = notice.title
        message["From"] = email.sender
        message["To"] = ", ".join(email.to)
        lines = [notice.text, ""] + [f"{k}: {v}" for k, v in notice.details.items() if v is not None]
        message.set_content("\n".join(lines) + "\n")
        with smtplib.SMTP(email.smtp_host, email.smtp_port, timeout=SEND_TIMEOUT_SECONDS) as smtp:
            smtp.ehlo()
            if email.starttls:
                smtp.starttls()
                smtp.ehlo()
            if email.username:
                password = resolve_secret(email.password) if email.password else ""
                smtp.login(email.username, password)
            smtp.send_message(message)

    def _post(self, url_reference: str, notice: Notice) -> None:
        url = resolve_secret(url_reference)
        payload = {
            # Slack (and Mattermost, Teams' Slack-compatible hooks) show "text"; others read the rest.
            "text": f"*{notice.title}*\n{notice.text}",
            "event": notice.kind,
            "project": notice.project,
            "pipeline": notice.pipeline,
            "details": notice.details,
            "sent_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        import httpx

        response = httpx.post(url, json=payload, timeout=SEND_TIMEOUT_SECONDS)
        response.raise_for_status()


def _host_of(url: str) -> str:
    import httpx

    return httpx.URL(url).host or "?"


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    # httpx puts the full URL into status errors; a Slack URL is a secret.
    return text.split(" for url ")[0]
