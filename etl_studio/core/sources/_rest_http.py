"""One GET with retries for the REST source: 429 Retry-After honoured, backoff on 5xx and timeouts, cancellable waits."""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from etl_studio.core.context import RunContext
from etl_studio.core.errors import ConfigError, ConnectionFailedError, RunCancelled

if TYPE_CHECKING:  # imported where a request is made: a run without a REST source doesn't load httpx
    import httpx

# 408 Request Timeout and 429 Too Many Requests say "try again"; so do the 5xx statuses
# (a gateway or a server that is briefly down).
_RETRY_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class RetryPolicy:
    retries: int
    backoff_seconds: float
    max_wait_seconds: float


class _RetryableFailure(Exception):
    """A failed attempt worth repeating; ``retry_after`` is what the server asked for, if anything."""

    def __init__(self, what: str, retry_after: float | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date; None if absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (moment - now).total_seconds())


def _status_text(response: httpx.Response) -> str:
    return f"HTTP {response.status_code} {response.reason_phrase}".rstrip()


def _body_hint(response: httpx.Response, mask: Callable[[str], str]) -> str:
    text = " ".join(response.text.split())[:200] if response.content else ""
    return f": {mask(text)}" if text else ""


def get_with_retries(
    client: httpx.Client,
    url: str,
    params: dict[str, Any],
    shown: str,
    policy: RetryPolicy,
    context: RunContext,
    mask: Callable[[str], str],
) -> httpx.Response:
    """GET ``url``; retry what may pass (429, 408, 5xx, timeouts, dropped connections) as ``policy`` says.

    ``shown`` is the URL without secrets, used in every log line and error. After the last
    attempt the error is a ConnectionFailedError naming the URL and the last status; 401/403
    are ConnectionFailedError at once, other 4xx a ConfigError (the request itself is wrong).
    """
    attempts = policy.retries + 1

    def wait(state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, _RetryableFailure) and failure.retry_after is not None:
            return failure.retry_after
        return min(policy.backoff_seconds * 2 ** (state.attempt_number - 1), policy.max_wait_seconds)

    def sleep(seconds: float) -> None:
        # The cancel event, not time.sleep: a cancelled run stops during a long Retry-After.
        if context.cancel.wait(seconds):
            raise RunCancelled("the run was cancelled")

    def before_sleep(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        context.logger.warning(
            "GET %s: %s; retrying in %.1f s (attempt %d of %d)", shown, failure, state.upcoming_sleep, state.attempt_number + 1, attempts
        )

    retrying = Retrying(
        retry=retry_if_exception_type(_RetryableFailure),
        stop=stop_after_attempt(attempts),
        wait=wait,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt:
                context.check_cancelled()
                return _attempt(client, url, params, shown, policy, mask)
    except _RetryableFailure as failure:
        tries = f"{attempts} attempts" if attempts > 1 else "1 attempt (retries: 0)"
        raise ConnectionFailedError(f"GET {shown}: {failure.what}; gave up after {tries}") from None
    raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover


def _attempt(client: httpx.Client, url: str, params: dict[str, Any], shown: str, policy: RetryPolicy, mask: Callable[[str], str]) -> httpx.Response:
    import httpx

    try:
        response = client.get(url, params=params or None)
    except httpx.TimeoutException:
        raise _RetryableFailure(f"no response within {client.timeout.read or client.timeout.connect} s (timeout)") from None
    except httpx.TransportError as exc:
        raise _RetryableFailure(f"connection failed: {mask(str(exc)) or type(exc).__name__}") from None
    status = response.status_code
    if status in _RETRY_STATUSES or 500 <= status < 600:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is not None and retry_after > policy.max_wait_seconds:
            raise ConnectionFailedError(
                f"GET {shown}: {_status_text(response)}, and the server asks to wait {retry_after:.0f} s, "
                f"longer than max_wait_seconds={policy.max_wait_seconds:g}"
            )
        raise _RetryableFailure(_status_text(response), retry_after)
    if status in (401, 403):
        raise ConnectionFailedError(f"GET {shown}: {_status_text(response)}: the API refused the credentials{_body_hint(response, mask)}")
    if status >= 400:
        raise ConfigError(f"GET {shown}: {_status_text(response)}{_body_hint(response, mask)}")
    return response
