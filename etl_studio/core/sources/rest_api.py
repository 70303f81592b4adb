"""The REST API source: GETs JSON pages (page number, offset, cursor or next link), flattens records to a.b columns."""

from __future__ import annotations

import decimal
import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import pandas as pd
from pydantic import Field, field_validator, model_validator

from etl_studio.core.context import mask_secrets, resolve_secret
from etl_studio.core.errors import ConfigError, DataError
from etl_studio.core.plugin_base import PluginConfig
from etl_studio.core.plugins import sources
from etl_studio.core.project.models import SECRET_REFERENCE
from etl_studio.core.sources._frames import TEXT
from etl_studio.core.sources._rest_http import RetryPolicy, get_with_retries
from etl_studio.core.sources.base import Source

# Reused from the JSON file source so that a record flattens and types the same way whether
# it came from a file or an API.
from etl_studio.core.sources.json_file import VALUE_COLUMN, _column, _flatten, _follow, _json_text

if TYPE_CHECKING:  # imported where the client is made: a run without a REST source doesn't load httpx
    import httpx

EXTRA_COLUMN = "_extra"
# Headers whose value is a credential: the project file must hold a reference, not the value.
_SECRET_HEADER = re.compile(r"authorization|token|secret|api[-_]?key|password|cookie", re.IGNORECASE)


class RestApiConfig(PluginConfig):
    url: str = Field("", description="The endpoint to GET, e.g. https://api.example.com/v1/orders")
    params: dict[str, str] = Field(
        default_factory=dict, description='Query parameters sent with the first request, e.g. {"status": "open"}; values may be ${ENV_VAR}'
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description='Extra request headers, e.g. {"Accept": "application/json"}; credentials only as ${ENV_VAR}'
    )
    auth: Literal["none", "bearer", "basic", "api_key"] = Field(
        "none", description="none; bearer: Authorization: Bearer <token>; basic: user name and password; api_key: the token in a header"
    )
    token: str | None = Field(None, description="Bearer token or API key, as ${ENV_VAR} or keyring:service/user (never the value itself)")
    username: str | None = Field(None, description="User name for basic authentication (may be ${ENV_VAR})")
    password: str | None = Field(None, description="Password for basic authentication, as ${ENV_VAR} or keyring:service/user")
    api_key_header: str = Field("X-API-Key", description="Header that carries the API key (auth api_key)")
    records_path: str = Field(
        "", description='Dotted path to the list of records in each response, e.g. "data.items"; empty: the response itself'
    )
    pagination: Literal["none", "page", "offset", "cursor", "next_link"] = Field(
        "none",
        description=(
            "none: one request; page: page=1,2,3...; offset: offset=0,100,200...; cursor: a token from the body; "
            "next_link: the next page's URL, from the body (next_link_path) or the Link header"
        ),
    )
    page_param: str = Field("page", description="Query parameter holding the page number (pagination page)")
    first_page: int = Field(1, ge=0, description="Number of the first page (pagination page)")
    page_size: int | None = Field(None, ge=1, description="Records per page to ask for; required for offset pagination")
    page_size_param: str = Field("per_page", description="Query parameter holding the page size (pagination page)")
    offset_param: str = Field("offset", description="Query parameter holding the offset (pagination offset)")
    limit_param: str = Field("limit", description="Query parameter holding the page size (pagination offset)")
    cursor_param: str = Field("cursor", description="Query parameter that sends the cursor back (pagination cursor)")
    cursor_path: str = Field("", description='Dotted path to the next cursor in the body, e.g. "meta.next_cursor" (pagination cursor)')
    next_link_path: str = Field(
        "", description='Dotted path to the next page URL in the body, e.g. "links.next"; empty: the Link header (pagination next_link)'
    )
    max_pages: int = Field(1000, ge=1, description="Safety limit: the read fails rather than request more pages than this")
    timeout_seconds: float = Field(30.0, gt=0, description="Seconds to wait for a response before it counts as a timeout")
    retries: int = Field(5, ge=0, description="Retries of a request after HTTP 429, 5xx, a timeout or a lost connection")
    backoff_seconds: float = Field(1.0, ge=0, description="First wait before a retry; doubles each time (unless the server sends Retry-After)")
    max_wait_seconds: float = Field(300.0, ge=0, description="Longest wait between retries; a longer Retry-After fails the read instead")
    new_keys: Literal["extra_column", "error"] = Field(
        "extra_column",
        description=(
            "Fields that first appear after the first chunk (whose columns are fixed once loaded): "
            f"extra_column: kept as a JSON object in column {EXTRA_COLUMN}; error: the read fails naming them"
        ),
    )

    @field_validator("token", "password")
    @classmethod
    def _secret_is_reference(cls, value: str | None) -> str | None:
        if value and not SECRET_REFERENCE.match(value):
            raise ValueError("write the secret as a reference, ${ENV_VAR} or keyring:service/user; project files never hold secrets")
        return value

    @field_validator("headers")
    @classmethod
    def _secret_headers_are_references(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if _SECRET_HEADER.search(name) and text and "${" not in text and not text.startswith("keyring:"):
                raise ValueError(f"header {name} holds a credential: write its value as ${{ENV_VAR}}, never the value itself")
        return value

    @model_validator(mode="after")
    def _pagination_settings(self) -> RestApiConfig:
        if self.pagination == "offset" and self.page_size is None:
            raise ValueError("offset pagination needs page_size (the number of records per request)")
        if self.pagination == "cursor" and not self.cursor_path.strip():
            raise ValueError("cursor pagination needs cursor_path (where the next cursor is in the response body)")
        return self


@sources.register("rest_api")
class RestApiSource(Source):
    """Reads records from a paginated JSON API.

    The columns are fixed by the first chunk (the union of the fields of its records), because
    later chunks cannot add columns to rows already handed on. Fields first seen later go, as
    a JSON object, into the ``_extra`` column (present in every chunk) or fail the read, as
    ``new_keys`` says. A column's type is fixed by the first chunk too; later values that do
    not fit it become text.
    """

    config_model = RestApiConfig
    title = "REST API"
    description = "Reads JSON records from an HTTP API, following its pages"

    config: RestApiConfig

    def __init__(self, config: RestApiConfig, context: Any) -> None:
        super().__init__(config, context)
        self._secrets: set[str] = set()

    # -- requests ----------------------------------------------------------------------------

    def _resolve(self, reference: str) -> str:
        value = resolve_secret(reference)
        if value != reference and value:
            self._secrets.add(value)
        return value

    def mask(self, text: str) -> str:
        """``text`` with every resolved secret replaced by ***, and URL passwords hidden."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return mask_secrets(text)

    def _client(self) -> httpx.Client:
        import httpx

        headers = {"Accept": "application/json"}
        headers.update({name: self._resolve(value) for name, value in self.config.headers.items()})
        auth: httpx.Auth | None = None
        if self.config.auth in ("bearer", "api_key"):
            if not self.config.token:
                raise ConfigError(f"auth '{self.config.auth}' needs a token (as ${{ENV_VAR}})")
            token = self._resolve(self.config.token)
            self._secrets.add(token)
            if self.config.auth == "bearer":
                headers["Authorization"] = f"Bearer {token}"
            else:
                headers[self.config.api_key_header] = token
        elif self.config.auth == "basic":
            if not self.config.username or not self.config.password:
                raise ConfigError("auth 'basic' needs a username and a password (the password as ${ENV_VAR})")
            password = self._resolve(self.config.password)
            self._secrets.add(password)
            auth = httpx.BasicAuth(self._resolve(self.config.username), password)
        return httpx.Client(headers=headers, auth=auth, timeout=self.config.timeout_seconds, follow_redirects=True)

    def display_url(self, url: str, params: dict[str, Any] | None = None) -> str:
        """The URL as shown in logs and errors: with its query, without credentials."""
        parts = urlsplit(url)
        query = parts.query
        if params:
            query = "&".join(q for q in (query, urlencode(params)) if q)
        return self.mask(urlunsplit((parts.scheme, parts.netloc, parts.path, query, "")))

    def _policy(self) -> RetryPolicy:
        config = self.config
        return RetryPolicy(config.retries, config.backoff_seconds, config.max_wait_seconds)

    def _get_json(self, client: httpx.Client, url: str, params: dict[str, Any]) -> tuple[Any, httpx.Response]:
        shown = self.display_url(url, params)
        self.context.logger.debug("GET %s", shown)
        response = get_with_retries(client, url, params, shown, self._policy(), self.context, self.mask)
        try:
            return json.loads(response.content, parse_float=decimal.Decimal), response
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            kind = response.headers.get("content-type", "unknown content type")
            raise DataError(f"GET {shown}: the response is not JSON ({kind}): {exc}") from None

    # -- pages -------------------------------------------------------------------------------

    def pages(self, client: httpx.Client) -> Iterator[list[Any]]:
        """The records of each page, in order, until the API has no more (or max_pages is exceeded)."""
        config = self.config
        mode = config.pagination
        url = config.url
        params: dict[str, Any] = {name: self._resolve(value) for name, value in config.params.items()}
        page, offset = config.first_page, 0
        seen_next: set[str] = set()
        for fetched in range(1, config.max_pages + 2):
            if mode == "page":
                params[config.page_param] = page
                if config.page_size is not None and config.page_size_param:
                    params[config.page_size_param] = config.page_size
            elif mode == "offset":
                params[config.offset_param] = offset
                params[config.limit_param] = config.page_size
            if fetched > config.max_pages:
                raise ConfigError(
                    f"GET {self.display_url(url, params)}: the API still has more pages after max_pages={config.max_pages}; "
                    "raise max_pages if that many are expected"
                )
            document, response = self._get_json(client, url, params)
            records = self._records(document, self.display_url(url, params))
            yield records
            if mode == "none":
                return
            if mode == "page":
                if not records or (config.page_size is not None and len(records) < config.page_size):
                    return
                page += 1
            elif mode == "offset":
                if len(records) < (config.page_size or 1):
                    return
                offset += len(records)
            elif mode == "cursor":
                cursor = _lookup(document, config.cursor_path)
                if cursor in (None, "", False) or not records:
                    return
                if str(cursor) in seen_next:
                    raise DataError(f"GET {self.display_url(url, params)}: the API returned cursor {cursor!r} twice; stopped to avoid a loop")
                seen_next.add(str(cursor))
                params[config.cursor_param] = cursor
            else:
                link = _lookup(document, config.next_link_path) if config.next_link_path else response.links.get("next", {}).get("url")
                if not link:
                    return
                # A next link is a full request by itself (it carries its own query).
                url, params = urljoin(str(response.url), str(link)), {}
                if url in seen_next:
                    raise DataError(f"GET {self.display_url(url)}: the API returned this next link twice; stopped to avoid a loop")
                seen_next.add(url)

    def _records(self, document: Any, shown: str) -> list[Any]:
        found = _follow(document, self.config.records_path, f"GET {shown}") if self.config.records_path else document
        if found is None:
            return []
        if isinstance(found, list):
            return found
        if isinstance(found, dict) and not self.config.records_path:
            lists = [key for key, value in found.items() if isinstance(value, list)]
            if lists and self.config.pagination != "none":
                raise ConfigError(f"GET {shown}: the response is an object: set records_path to where the records are (lists in it: {', '.join(lists)})")
        return [found]

    # -- chunks ------------------------------------------------------------------------------

    def read_chunks(self, chunk_size: int, limit: int | None = None) -> Iterator[pd.DataFrame]:
        self.context.check_cancelled()
        if not self.config.url.strip():
            raise ConfigError("no URL set: set the API's url")
        if urlsplit(self.config.url).scheme not in ("http", "https"):
            raise ConfigError(f"url {self.display_url(self.config.url)!r}: only http:// and https:// URLs can be read")
        chunk_size = max(1, chunk_size)
        shaper = _ChunkShaper(self.config.new_keys)
        buffer: list[dict[str, Any]] = []
        start = 0
        with self._client() as client:
            for records in self.pages(client):
                buffer.extend(_flatten(r) if isinstance(r, dict) else {VALUE_COLUMN: r} for r in records)
                if limit is not None and start + len(buffer) >= limit:
                    del buffer[limit - start:]
                while len(buffer) >= chunk_size:
                    self.context.check_cancelled()
                    yield shaper.frame(buffer[:chunk_size], start)
                    start += chunk_size
                    del buffer[:chunk_size]
                if limit is not None and start + len(buffer) >= limit:
                    break  # stops paging early: no request is made for rows nobody wants
            if buffer:
                self.context.check_cancelled()
                yield shaper.frame(buffer, start)


class _ChunkShaper:
    """Keeps every chunk in the columns and types of the first."""

    def __init__(self, new_keys: str) -> None:
        self.new_keys = new_keys
        self.names: list[str] | None = None
        self.dtypes: dict[str, Any] = {}

    def frame(self, records: list[dict[str, Any]], start: int) -> pd.DataFrame:
        if self.names is None:
            keys: dict[str, None] = {}
            for record in records:
                keys.update(dict.fromkeys(record))
            self.names = [k for k in keys if k != EXTRA_COLUMN]
            frame = self._build(records, [])
            self.dtypes = dict(frame.dtypes)
        else:
            known = set(self.names)
            extras = [{k: v for k, v in r.items() if k not in known} for r in records]
            if self.new_keys == "error":
                new = sorted({k for e in extras for k in e})
                if new:
                    raise DataError(
                        f"rows {start}-{start + len(records) - 1}: field(s) {', '.join(new)} did not appear in the first chunk, "
                        f"whose columns are fixed; set new_keys to 'extra_column' or read with a larger chunk size"
                    )
            frame = self._build(records, extras)
            for name, dtype in self.dtypes.items():
                if frame[name].dtype != dtype:
                    frame[name] = _conform(frame[name], dtype)
        frame.index = pd.RangeIndex(start, start + len(records))
        return frame

    def _build(self, records: list[dict[str, Any]], extras: list[dict[str, Any]]) -> pd.DataFrame:
        assert self.names is not None
        columns = {name: _column([r.get(name) for r in records]) for name in self.names}
        if self.new_keys == "extra_column":
            texts = [_json_text(e) if e else None for e in extras] if extras else [None] * len(records)
            columns[EXTRA_COLUMN] = pd.Series(pd.array(texts, dtype=TEXT))
        frame = pd.DataFrame(columns)
        if not columns:
            frame = pd.DataFrame(index=range(len(records)))
        return frame


def _conform(series: pd.Series, dtype: Any) -> pd.Series:
    """A later chunk's column in the first chunk's type, or as text when its values do not fit."""
    try:
        if dtype != TEXT:
            return series.astype(dtype)
    except (TypeError, ValueError, ArithmeticError):
        pass
    values = [None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else _json_text(v) for v in series.astype(object)]
    return pd.Series(pd.array(values, dtype=TEXT), index=series.index)


def _lookup(document: Any, path: str) -> Any:
    """The value at a dotted path, or None when any step is missing."""
    current = document
    for part in [p for p in path.split(".") if p]:
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current
