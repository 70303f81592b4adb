"""The REST API source against a real HTTP server on 127.0.0.1: each pagination style, auth, 429, 500, flattening."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
from pydantic import ValidationError

from etl_studio.core.context import RunContext
from etl_studio.core.errors import ConfigError, ConnectionFailedError, DataError, RunCancelled
from etl_studio.core.sources._rest_http import parse_retry_after
from etl_studio.core.sources.rest_api import EXTRA_COLUMN, RestApiConfig, RestApiSource

PEOPLE = [{"id": i, "name": f"person {i}", "address": {"city": f"city {i}", "geo": {"lat": i + 0.5}}} for i in range(1, 8)]


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float


@dataclass
class Api:
    """A real HTTP server: ``routes[path](request) -> (status, headers, body)``; every request is recorded."""

    base: str
    routes: dict[str, Callable[[Request], tuple[int, dict[str, str], Any]]]
    requests: list[Request] = field(default_factory=list)

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def api() -> Iterator[Api]:
    state = Api(base="", routes={})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            parts = urlsplit(self.path)
            request = Request(parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}, dict(self.headers), time.monotonic())
            state.requests.append(request)
            route = state.routes.get(parts.path)
            status, headers, body = route(request) if route else (404, {}, {"error": "no such path"})
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def read(context: RunContext, chunk_size: int = 1000, limit: int | None = None, **config: Any) -> list[pd.DataFrame]:
    return list(RestApiSource.from_spec(config, context).read_chunks(chunk_size, limit))


def ids(chunks: list[pd.DataFrame]) -> list[int]:
    return [int(v) for v in pd.concat(chunks)["id"]]


# -- pagination ---------------------------------------------------------------------------------


def test_page_numbers_are_followed_until_a_short_page(api: Api, context: RunContext) -> None:
    def pages(request: Request) -> tuple[int, dict[str, str], Any]:
        page, size = int(request.query["page"]), int(request.query["per_page"])
        return 200, {}, {"data": {"items": PEOPLE[(page - 1) * size : page * size]}}

    api.routes["/people"] = pages
    chunks = read(context, 3, url=f"{api.base}/people", records_path="data.items", pagination="page", page_size=3)
    assert ids(chunks) == [1, 2, 3, 4, 5, 6, 7]
    assert [list(c.index) for c in chunks] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [r.query["page"] for r in api.hits("/people")] == ["1", "2", "3"]


def test_page_numbers_without_a_page_size_stop_at_an_empty_page(api: Api, context: RunContext) -> None:
    api.routes["/people"] = lambda r: (200, {}, PEOPLE[(int(r.query["page"]) - 1) * 4 : int(r.query["page"]) * 4])
    chunks = read(context, url=f"{api.base}/people", pagination="page")
    assert ids(chunks) == [1, 2, 3, 4, 5, 6, 7]
    assert [r.query["page"] for r in api.hits("/people")] == ["1", "2", "3"]


def test_offset_and_limit_pages(api: Api, context: RunContext) -> None:
    def rows(request: Request) -> tuple[int, dict[str, str], Any]:
        offset, limit = int(request.query["skip"]), int(request.query["take"])
        return 200, {}, {"results": PEOPLE[offset : offset + limit], "total": len(PEOPLE)}

    api.routes["/people"] = rows
    chunks = read(
        context, url=f"{api.base}/people", records_path="results", pagination="offset", page_size=2, offset_param="skip", limit_param="take"
    )
    assert ids(chunks) == [1, 2, 3, 4, 5, 6, 7]
    assert [r.query["skip"] for r in api.hits("/people")] == ["0", "2", "4", "6"]


def test_a_cursor_token_from_the_body_is_sent_back(api: Api, context: RunContext) -> None:
    def rows(request: Request) -> tuple[int, dict[str, str], Any]:
        start = int(request.query.get("after", "0"))
        items = PEOPLE[start : start + 3]
        following = start + 3 if start + 3 < len(PEOPLE) else None
        return 200, {}, {"items": items, "meta": {"next_cursor": None if following is None else str(following)}}

    api.routes["/people"] = rows
    chunks = read(
        context, url=f"{api.base}/people", params={"sort": "id"}, records_path="items", pagination="cursor",
        cursor_path="meta.next_cursor", cursor_param="after",
    )
    assert ids(chunks) == [1, 2, 3, 4, 5, 6, 7]
    assert [r.query.get("after") for r in api.hits("/people")] == [None, "3", "6"]
    assert all(r.query["sort"] == "id" for r in api.hits("/people")), "the configured params go with every page"


def test_a_next_link_in_the_body_is_followed(api: Api, context: RunContext) -> None:
    def rows(request: Request) -> tuple[int, dict[str, str], Any]:
        page = int(request.query.get("p", "1"))
        items = PEOPLE[(page - 1) * 3 : page * 3]
        following = f"/people?p={page + 1}" if page * 3 < len(PEOPLE) else None  # relative: resolved against the request
        return 200, {}, {"data": items, "links": {"next": following}}

    api.routes["/people"] = rows
    chunks = read(context, url=f"{api.base}/people", records_path="data", pagination="next_link", next_link_path="links.next")
    assert ids(chunks) == [1, 2, 3, 4, 5, 6, 7]
    assert [r.query.get("p") for r in api.hits("/people")] == [None, "2", "3"]


def test_a_next_link_in_the_link_header_is_followed(api: Api, context: RunContext) -> None:
    def rows(request: Request) -> tuple[int, dict[str, str], Any]:
        page = int(request.query.get("page", "1"))
        headers = {}
        if page * 2 < len(PEOPLE):
            headers["Link"] = f'<{api.base}/people?page={page + 1}>; rel="next", <{api.base}/people?page=4>; rel="last"'
        return 200, headers, PEOPLE[(page - 1) * 2 : page * 2]

    api.routes["/people"] = rows
    chunks = read(context, 2, url=f"{api.base}/people", pagination="next_link")
    assert ids(chunks) == [1, 2, 3, 4, 5, 6, 7]
    assert len(api.hits("/people")) == 4


def test_limit_stops_paging_early(api: Api, context: RunContext) -> None:
    api.routes["/people"] = lambda r: (200, {}, PEOPLE[(int(r.query["page"]) - 1) * 2 : int(r.query["page"]) * 2])
    chunks = read(context, 10, limit=3, url=f"{api.base}/people", pagination="page", page_size=2)
    assert ids(chunks) == [1, 2, 3]
    assert len(api.hits("/people")) == 2, "no page is requested past the limit"


def test_more_pages_than_max_pages_is_a_clear_error(api: Api, context: RunContext) -> None:
    api.routes["/endless"] = lambda r: (200, {}, [{"id": int(r.query["page"])}])
    with pytest.raises(ConfigError, match=r"max_pages=3"):
        read(context, url=f"{api.base}/endless", pagination="page", max_pages=3)
    assert len(api.hits("/endless")) == 3


def test_a_cursor_that_repeats_stops_instead_of_looping(api: Api, context: RunContext) -> None:
    api.routes["/loop"] = lambda r: (200, {}, {"items": [{"id": 1}], "next": "same"})
    with pytest.raises(DataError, match="twice"):
        read(context, url=f"{api.base}/loop", records_path="items", pagination="cursor", cursor_path="next")


# -- flattening and columns ---------------------------------------------------------------------


def test_nested_objects_become_dotted_columns(api: Api, context: RunContext) -> None:
    api.routes["/people"] = lambda r: (200, {}, {"items": PEOPLE[:2] + [{"id": 3, "name": None, "tags": ["a", "b"]}]})
    (frame,) = read(context, url=f"{api.base}/people", records_path="items")
    assert list(frame.columns) == ["id", "name", "address.city", "address.geo.lat", "tags", EXTRA_COLUMN]
    assert frame["address.city"].tolist()[:2] == ["city 1", "city 2"]
    assert frame["address.city"].isna().tolist() == [False, False, True]
    assert str(frame["address.geo.lat"][0]) == "1.5"  # exact decimal, not a float
    assert frame["tags"][2] == '["a", "b"]'
    assert str(frame["id"].dtype) == "Int64"


def test_fields_first_seen_after_the_first_chunk_go_to_the_extra_column(api: Api, context: RunContext) -> None:
    records = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c", "vip": {"level": 2}}, {"id": 4}]
    api.routes["/people"] = lambda r: (200, {}, records)
    first, second = read(context, 2, url=f"{api.base}/people")
    assert list(first.columns) == list(second.columns) == ["id", "name", EXTRA_COLUMN]
    assert first[EXTRA_COLUMN].isna().all()
    assert json.loads(second[EXTRA_COLUMN][2]) == {"vip.level": 2}
    assert second[EXTRA_COLUMN].isna().tolist() == [False, True]
    assert second["name"].isna().tolist() == [False, True]


def test_fields_first_seen_later_can_fail_the_read_instead(api: Api, context: RunContext) -> None:
    api.routes["/people"] = lambda r: (200, {}, [{"id": 1}, {"id": 2, "late": True}])
    with pytest.raises(DataError, match="late"):
        read(context, 1, url=f"{api.base}/people", new_keys="error")


def test_later_chunks_keep_the_first_chunks_types(api: Api, context: RunContext) -> None:
    api.routes["/people"] = lambda r: (200, {}, [{"id": 1, "code": None}, {"id": 2, "code": 7}, {"id": "x3", "code": 8}])
    first, second, third = read(context, 1, url=f"{api.base}/people")
    assert first["code"].dtype == second["code"].dtype == third["code"].dtype
    assert second["code"].tolist() == ["7"]
    assert third["id"].tolist() == ["x3"]  # does not fit Int64: kept as text rather than lost


def test_an_object_response_needs_a_records_path(api: Api, context: RunContext) -> None:
    api.routes["/people"] = lambda r: (200, {}, {"data": PEOPLE, "page": 1})
    with pytest.raises(ConfigError, match="records_path.*data"):
        read(context, url=f"{api.base}/people", pagination="page")
    with pytest.raises(ConfigError, match="no 'itemz'"):
        read(context, url=f"{api.base}/people", records_path="itemz")


def test_a_response_that_is_not_json_is_named(api: Api, context: RunContext) -> None:
    api.routes["/html"] = lambda r: (200, {}, b"<html>login</html>")
    with pytest.raises(DataError, match="not JSON"):
        read(context, url=f"{api.base}/html")


# -- retries -------------------------------------------------------------------------------------


def test_429_waits_as_long_as_retry_after_says(api: Api, context: RunContext) -> None:
    def limited(request: Request) -> tuple[int, dict[str, str], Any]:
        if len(api.hits("/people")) == 1:
            return 429, {"Retry-After": "1"}, {"error": "slow down"}
        return 200, {}, PEOPLE[:2]

    api.routes["/people"] = limited
    chunks = read(context, url=f"{api.base}/people", backoff_seconds=0.01)
    assert ids(chunks) == [1, 2]
    first, second = api.hits("/people")
    assert second.at - first.at >= 0.95, "Retry-After: 1 is honoured, not the 0.01 s backoff"


def test_a_500_that_recovers_is_retried_with_backoff(api: Api, context: RunContext) -> None:
    api.routes["/people"] = lambda r: (500, {}, {"error": "boom"}) if len(api.hits("/people")) <= 2 else (200, {}, PEOPLE[:1])
    chunks = read(context, url=f"{api.base}/people", backoff_seconds=0.05)
    assert ids(chunks) == [1]
    times = [r.at for r in api.hits("/people")]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.045 and times[2] - times[1] >= 0.095, "waits double: 0.05 s, then 0.1 s"


def test_a_500_that_never_recovers_fails_clearly_without_the_secret(api: Api, context: RunContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", "s3cr3t-token")
    api.routes["/people"] = lambda r: (503, {}, {"error": "down", "echo": r.headers.get("Authorization")})
    with pytest.raises(ConnectionFailedError) as caught:
        read(context, url=f"{api.base}/people", params={"q": "x"}, auth="bearer", token="${API_TOKEN}", retries=2, backoff_seconds=0.01)
    message = str(caught.value)
    assert f"{api.base}/people?q=x" in message and "503" in message and "3 attempts" in message
    assert "s3cr3t" not in message
    assert len(api.hits("/people")) == 3


def test_a_timeout_is_retried_then_named(api: Api, context: RunContext) -> None:
    answered = threading.Event()

    def slow(request: Request) -> tuple[int, dict[str, str], Any]:
        answered.wait(10)  # held until the client has given up on every attempt
        return 200, {}, []

    api.routes["/slow"] = slow
    try:
        with pytest.raises(ConnectionFailedError, match="timeout.*2 attempts"):
            read(context, url=f"{api.base}/slow", timeout_seconds=0.05, retries=1, backoff_seconds=0.01)
    finally:
        answered.set()


def test_a_retry_after_longer_than_max_wait_fails_at_once(api: Api, context: RunContext) -> None:
    api.routes["/people"] = lambda r: (429, {"Retry-After": "3600"}, {})
    with pytest.raises(ConnectionFailedError, match="wait 3600 s"):
        read(context, url=f"{api.base}/people")
    assert len(api.hits("/people")) == 1


def test_cancelling_during_a_retry_wait_stops_at_once(api: Api, context: RunContext) -> None:
    api.routes["/people"] = lambda r: (429, {"Retry-After": "30"}, {})
    timer = threading.Timer(0.2, context.cancel.set)
    timer.start()
    started = time.monotonic()
    with pytest.raises(RunCancelled):
        read(context, url=f"{api.base}/people")
    assert time.monotonic() - started < 5


def test_a_404_is_not_retried(api: Api, context: RunContext) -> None:
    with pytest.raises(ConfigError, match="404"):
        read(context, url=f"{api.base}/nowhere")
    assert len(api.hits("/nowhere")) == 1


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now) == 0
    assert parse_retry_after("7") == 7
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


# -- auth ----------------------------------------------------------------------------------------


def guarded(expected_header: str, expected_value: str) -> Callable[[Request], tuple[int, dict[str, str], Any]]:
    def route(request: Request) -> tuple[int, dict[str, str], Any]:
        if request.headers.get(expected_header) != expected_value:
            return 401, {}, {"error": "who are you?"}
        return 200, {}, PEOPLE[:1]

    return route


def test_bearer_token_from_an_environment_variable(api: Api, context: RunContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", "tok-123")
    api.routes["/me"] = guarded("Authorization", "Bearer tok-123")
    assert ids(read(context, url=f"{api.base}/me", auth="bearer", token="${API_TOKEN}")) == [1]


def test_basic_auth(api: Api, context: RunContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_PASSWORD", "pa:ss")
    api.routes["/me"] = guarded("Authorization", "Basic " + base64.b64encode(b"ann:pa:ss").decode())
    assert ids(read(context, url=f"{api.base}/me", auth="basic", username="ann", password="${API_PASSWORD}")) == [1]


def test_api_key_header(api: Api, context: RunContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY", "k-9")
    api.routes["/me"] = guarded("X-Api-Token", "k-9")
    assert ids(read(context, url=f"{api.base}/me", auth="api_key", token="${API_KEY}", api_key_header="X-Api-Token")) == [1]


def test_refused_credentials_are_a_connection_error_without_the_secret(api: Api, context: RunContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", "wrong-token")
    api.routes["/me"] = lambda r: (401, {}, {"error": f"bad token {r.headers.get('Authorization')}"})
    with pytest.raises(ConnectionFailedError, match="401.*refused the credentials") as caught:
        read(context, url=f"{api.base}/me", auth="bearer", token="${API_TOKEN}")
    assert "wrong-token" not in str(caught.value)
    assert len(api.hits("/me")) == 1, "wrong credentials are not retried"


def test_secrets_in_headers_and_params_come_from_references(api: Api, context: RunContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENANT", "acme")
    monkeypatch.setenv("SIGNATURE", "sig-1")
    api.routes["/me"] = lambda r: (200, {}, [{"tenant": r.query["tenant"], "sig": r.headers.get("X-Signature-Token")}])
    (frame,) = read(context, url=f"{api.base}/me", params={"tenant": "${TENANT}"}, headers={"X-Signature-Token": "${SIGNATURE}"})
    assert frame[["tenant", "sig"]].iloc[0].tolist() == ["acme", "sig-1"]


def test_literal_secrets_are_refused_in_the_config() -> None:
    with pytest.raises(ValidationError, match="reference"):
        RestApiConfig(url="https://x", auth="bearer", token="tok-123")
    with pytest.raises(ValidationError, match="Authorization"):
        RestApiConfig(url="https://x", headers={"Authorization": "Bearer tok-123"})
    RestApiConfig(url="https://x", headers={"Authorization": "Bearer ${TOKEN}", "Accept": "application/json"})


def test_missing_environment_variable_is_a_config_error(api: Api, context: RunContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_TOKEN_VAR", raising=False)
    with pytest.raises(ConfigError, match="NO_SUCH_TOKEN_VAR"):
        read(context, url=f"{api.base}/me", auth="bearer", token="${NO_SUCH_TOKEN_VAR}")


def test_config_needs_what_its_pagination_uses() -> None:
    with pytest.raises(ValidationError, match="page_size"):
        RestApiConfig(url="https://x", pagination="offset")
    with pytest.raises(ValidationError, match="cursor_path"):
        RestApiConfig(url="https://x", pagination="cursor")


def test_no_url_is_a_config_error(context: RunContext) -> None:
    with pytest.raises(ConfigError, match="url"):
        read(context)
