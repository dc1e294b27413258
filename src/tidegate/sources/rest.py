"""The ``rest`` source: records from a paginated JSON HTTP API, one batch per page or more.

Each page's records (found at ``records_path`` in the JSON body) become an Arrow batch with
``pa.RecordBatch.from_pylist``; pages are combined until ``batch_size`` rows. Pagination ends
ONLY on its documented end condition, and anything else that would quietly load partial data
fails the run with a ``DataError``:

============  ==================================================  =============================
pagination    ends when                                            fails when
============  ==================================================  =============================
``none``      after the one request                                (nothing)
``page``      a page is empty or shorter than ``page_size``, or    a page repeats the one before
              ``total_path``'s total is reached                    (the API ignores the param)
``offset``    same as ``page``                                     same as ``page``
``cursor``    the cursor at ``cursor_path`` is missing/null/empty  a cursor comes back again
``link``      the response has no ``Link: <…>; rel="next"``        a next URL comes back again
============  ==================================================  =============================

For every style: more than ``max_pages`` pages fails, and so does receiving fewer records
than the total reported at ``total_path``. HTTP errors are classified: 404 and other 4xx are
``ConfigError`` (401/403 with a hint about the token, which is never printed), 429/502/503/504
and timeouts are ``TransientError``, other 5xx and refused connections ``DependencyError``.
URLs in messages carry no user info and mask credential-like query values.

``health`` sends the first page's request (same method, params, auth header and timeout) and
passes when the answer is a success with a JSON body; its detail is ``HTTP 200 in 12 ms`` or
the classified error, with the token scrubbed.

``peek_schema`` is always None: ``columns`` types some fields but does not close the set (a
record's other fields are inferred from the pages, in the order they appear), so the schema
is known only once a page has been fetched, which is reading data.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import pyarrow as pa
import structlog
from pydantic import Field

from tidegate.core.health import Check, timed
from tidegate.core.protocols import SourceBatch
from tidegate.errors import (
    ConfigError,
    DataError,
    DependencyError,
    TidegateError,
    TransientError,
)
from tidegate.sources._types import conform, parse_types, to_array
from tidegate.spec.settings import PluginSettings, Secret
from tidegate.spec.types import TYPE_NAMES, ColumnTypes

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx

    from tidegate.core.context import RunContext

__all__ = ["RestSettings", "RestSource", "safe_url"]

log = structlog.get_logger(__name__)

_SENSITIVE = ("token", "key", "secret", "password", "passwd", "sig", "auth", "credential")
_MISSING = object()


class RestSettings(PluginSettings):
    """Settings of the ``rest`` source."""

    url: str = Field(description="Endpoint URL of the first page")
    method: Literal["GET", "POST"] = Field("GET", description="HTTP method")
    params: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Query parameters sent with every request"
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra request headers (no secrets: use auth_token)"
    )
    auth_token: Secret | None = Field(
        None, description="Token sent as '<auth_scheme> <token>' in auth_header (a secret)"
    )
    auth_header: str = Field("Authorization", description="Header that carries the token")
    auth_scheme: str = Field("Bearer", description="Scheme before the token; '' sends it bare")
    records_path: str = Field(
        "", description="Dotted path of the records list in the body (data.items); '' = body"
    )
    pagination: Literal["none", "page", "offset", "cursor", "link"] = Field(
        "none",
        description="none: one request; page/offset: stop on an empty or short page or at the "
        "total; cursor: stop when the cursor is missing/empty; link: stop without rel=next",
    )
    page_param: str = Field("page", description="page: query parameter of the page number")
    start_page: int = Field(1, description="page: number of the first page")
    page_size_param: str = Field(
        "page_size", description="page: query parameter of the page size ('' = not sent)"
    )
    page_size: int = Field(
        100, ge=1, description="page/offset: records per page; a shorter page is the last"
    )
    offset_param: str = Field("offset", description="offset: query parameter of the offset")
    limit_param: str = Field("limit", description="offset: query parameter of the page size")
    cursor_param: str = Field("cursor", description="cursor: query parameter of the cursor")
    cursor_path: str = Field(
        "next_cursor", description="cursor: dotted path of the next cursor in the body"
    )
    total_path: str | None = Field(
        None, description="Dotted path of the total record count; fewer records received fails"
    )
    max_pages: int = Field(10_000, ge=1, description="Safety limit; more pages fails the run")
    timeout: float = Field(30.0, gt=0, description="Seconds to wait for each response")
    batch_size: int = Field(65_536, ge=1, description="Pages are combined up to this many rows")
    columns: ColumnTypes = Field(
        default_factory=dict,
        description=f"Explicit column types, name -> type ({TYPE_NAMES}); others are inferred",
    )


class _Pager:
    """Pagination state: the next request's URL and params, and the end conditions."""

    def __init__(self, settings: RestSettings) -> None:
        self.settings = settings
        self.url = settings.url
        self.page = settings.start_page
        self.offset = 0
        self.cursor: str | None = None
        self.seen: set[str] = set()
        self.digest = b""
        self.position: dict[str, Any] = {}

    def params(self) -> dict[str, Any]:
        s = self.settings
        params: dict[str, Any] = dict(s.params) if self.url == s.url else {}
        if s.pagination == "page":
            params[s.page_param] = self.page
            if s.page_size_param:
                params[s.page_size_param] = s.page_size
        elif s.pagination == "offset":
            params[s.offset_param] = self.offset
            params[s.limit_param] = s.page_size
        elif s.pagination == "cursor" and self.cursor is not None:
            params[s.cursor_param] = self.cursor
        return params

    def advance(self, response: httpx.Response, body: Any, count: int, *, where: str) -> bool:
        """Move to the next page; True when the documented end condition is met."""
        kind = self.settings.pagination
        if kind == "none":
            return True
        if kind in ("page", "offset"):
            return self._numbered(response, count, where)
        if kind == "cursor":
            return self._cursor(body, where)
        return self._link(response, where)

    def _numbered(self, response: httpx.Response, count: int, where: str) -> bool:
        s = self.settings
        digest = hashlib.sha256(response.content).digest()
        if count and digest == self.digest:
            param = s.page_param if s.pagination == "page" else s.offset_param
            raise DataError(
                "page returned the same body as the page before it",
                location=where,
                hint=f"check that the API honours the `{param}` parameter",
            )
        self.digest = digest
        self.page, self.offset = self.page + 1, self.offset + count
        self.position = {"page": self.page} if s.pagination == "page" else {"offset": self.offset}
        return count < s.page_size

    def _cursor(self, body: Any, where: str) -> bool:
        s = self.settings
        cursor = dig(body, s.cursor_path, None)
        if cursor is None or cursor == "":
            return True
        self.cursor = str(cursor)
        if self.cursor in self.seen:
            raise DataError(
                f"cursor {self.cursor!r} came back again: the API is looping",
                location=where,
                hint=f"check cursor_path ({s.cursor_path}) and cursor_param ({s.cursor_param})",
            )
        self.seen.add(self.cursor)
        self.position = {"cursor": self.cursor}
        return False

    def _link(self, response: httpx.Response, where: str) -> bool:
        self.seen.add(str(response.request.url))
        link = response.links.get("next", {}).get("url")
        if not link:
            return True
        self.url = urljoin(str(response.request.url), link)
        if self.url in self.seen:
            raise DataError(
                f"next link {safe_url(self.url)} came back again: the API is looping",
                location=where,
                hint="report the looping Link header to the API's owner",
            )
        self.seen.add(self.url)
        self.position = {"url": safe_url(self.url)}
        return False


def safe_url(url: str) -> str:
    """The URL without user info and with credential-like query values masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    query = [
        (k, "***" if any(word in k.lower() for word in _SENSITIVE) else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit((parts.scheme, host, parts.path, urlencode(query, safe="*"), ""))


def dig(body: Any, path: str, default: Any = _MISSING) -> Any:
    """Follow a dotted path (``data.items``, ``pages.0.next``) into a JSON value."""
    value = body
    for key in path.split(".") if path else []:
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return default
    return value


class RestSource:
    """Reads records from a JSON HTTP API page by page."""

    kind: ClassVar[str] = "rest"
    Settings: ClassVar[type[PluginSettings]] = RestSettings

    def __init__(self, settings: RestSettings) -> None:
        self.settings = settings
        self._types = parse_types(settings.columns)
        self._schema: pa.Schema | None = None

    def describe(self) -> str:
        return f"rest:{safe_url(self.settings.url)}"

    def _scrub(self, text: str) -> str:
        token = self.settings.auth_token
        if token is not None and token.get_secret_value():
            text = text.replace(token.get_secret_value(), "***")
        return text

    def peek_schema(self, ctx: RunContext) -> pa.Schema | None:
        """None: the fields come from the records themselves (see the module docstring)."""
        return None

    def read(self, ctx: RunContext) -> Iterator[SourceBatch]:
        self._schema = None
        with self._client() as client:
            yield from self._pages(client, ctx)

    def _client(self) -> httpx.Client:
        """A client sending the headers and the auth token, with the timeout."""
        import httpx  # noqa: PLC0415 - heavy, imported on first use

        s = self.settings
        headers = dict(s.headers)
        if s.auth_token is not None:
            token = s.auth_token.get_secret_value()
            headers[s.auth_header] = f"{s.auth_scheme} {token}" if s.auth_scheme else token
        client: httpx.Client = httpx.Client(
            timeout=s.timeout, headers=headers, follow_redirects=True
        )
        return client

    def health(self, ctx: RunContext) -> Iterator[Check]:
        """One check, ``request``: the first page answers with a success and a JSON body.

        The request goes through the run's call policy like any other: retried when the API
        is briefly unavailable, and refused at once while its circuit breaker is open.
        """
        yield timed(self.describe(), "request", lambda: self._probe_request(ctx))

    def _probe_request(self, ctx: RunContext) -> str:
        pager = _Pager(self.settings)
        try:
            with self._client() as client:
                response, _ = self._fetch(client, pager.url, pager.params(), page=1, ctx=ctx)
        except TidegateError as exc:  # bodies and transport errors may echo the token
            raise type(exc)(self._scrub(exc.message), location=exc.location, hint=exc.hint) from exc
        elapsed = round(response.elapsed.total_seconds() * 1000)
        return f"HTTP {response.status_code} in {elapsed} ms"

    def _fetch(
        self, client: httpx.Client, url: str, params: dict[str, Any], *, page: int, ctx: RunContext
    ) -> tuple[httpx.Response, Any]:
        """One page and its JSON body, under the run's retry policy and the API's breaker.

        The body is read inside the retried call: a response cut short in transit is a
        transport failure, retried like a dropped connection.
        """

        def once() -> tuple[httpx.Response, Any]:
            response = self._request(client, url, params, page=page)
            return response, self._json(
                response, f"{safe_url(str(response.request.url))} (page {page})"
            )

        return ctx.calls.call("rest", once, target=urlsplit(url).hostname or safe_url(url))

    def _pages(self, client: httpx.Client, ctx: RunContext) -> Iterator[SourceBatch]:
        s = self.settings
        pager = _Pager(s)
        received, pages = 0, 0
        total: int | None = None
        pending: list[pa.RecordBatch] = []
        while True:
            if pages >= s.max_pages:
                raise DataError(
                    f"stopped after max_pages={s.max_pages} pages without reaching the end",
                    location=safe_url(pager.url),
                    hint="raise max_pages if the API really has more pages; otherwise check "
                    "the pagination settings",
                )
            response, body = self._fetch(client, pager.url, pager.params(), page=pages + 1, ctx=ctx)
            pages += 1
            where = f"{safe_url(str(response.request.url))} (page {pages})"
            records = self._records(body, where)
            if s.total_path and total is None:
                total = self._total(body, where)
            received += len(records)
            if records:
                pending.append(self._to_batch(records, where))
            if pager.advance(response, body, len(records), where=where):
                break
            if s.pagination in ("page", "offset") and total is not None and received >= total:
                break
            if sum(b.num_rows for b in pending) >= s.batch_size:
                combined = self._combine(pending)
                if combined is not None:
                    yield SourceBatch(combined, {**pager.position, "rows": received})
                pending = []
        if total is not None and received < total:
            raise DataError(
                f"received {received} records but the API reported a total of {total}",
                location=f"{safe_url(s.url)} ({pages} pages)",
                hint="the pagination ended early; check page_size and the pagination "
                "settings, or whether the data changed during the run",
            )
        log.info("rest_pages_read", url=safe_url(s.url), pages=pages, records=received)
        batch = self._combine(pending)
        if batch is not None:
            yield SourceBatch(batch, {"pages": pages, "rows": received})

    def _request(
        self, client: httpx.Client, url: str, params: dict[str, Any], *, page: int
    ) -> httpx.Response:
        import httpx  # noqa: PLC0415 - heavy, imported on first use

        s = self.settings
        where = f"{safe_url(url)} (page {page})"
        try:
            response = client.request(s.method, url, params=params or None)
        except httpx.TimeoutException as exc:
            raise TransientError(
                f"{s.method} timed out after {s.timeout:g}s",
                location=where,
                hint="the API is slow or down; raise `timeout` or retry later",
            ) from exc
        except httpx.TransportError as exc:
            raise DependencyError(
                f"cannot reach the API: {self._scrub(str(exc)) or type(exc).__name__}",
                location=where,
                hint="check the url's host and port and that the service is up",
            ) from exc
        if response.is_success:
            return response
        raise self._status_error(response, where)

    def _status_error(self, response: httpx.Response, where: str) -> TidegateError:
        code, phrase = response.status_code, response.reason_phrase
        what = f"{self.settings.method} returned {code} {phrase}"
        snippet = self._scrub(response.text[:200].strip().replace("\n", " "))
        detail = f"{what}: {snippet}" if snippet else what
        if code == 404:
            return ConfigError(
                f"{what} for {where}",
                location=where,
                hint="check the url and its path; the endpoint does not exist",
            )
        if code in (401, 403):
            return ConfigError(
                detail,
                location=where,
                hint="check auth_token (is it set, current, and allowed to read this "
                "endpoint?), auth_header and auth_scheme",
            )
        if code in (408, 425, 429, 502, 503, 504):
            error = RateLimitedError(
                detail,
                location=where,
                hint="the API is overloaded or rate limiting; retry later",
            )
            error.retry_after = _retry_after(response.headers.get("retry-after"))
            return error
        if code >= 500:
            return DependencyError(
                detail, location=where, hint="the API failed; check its status and retry"
            )
        return ConfigError(detail, location=where, hint="check the params and headers sent")

    def _json(self, response: httpx.Response, where: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            kind = response.headers.get("content-type", "no content type")
            raise DataError(
                f"response body is not JSON ({kind}): {response.text[:80]!r}",
                location=where,
                hint="check the url: it should return JSON",
            ) from exc

    def _records(self, body: Any, where: str) -> list[Any]:
        path = self.settings.records_path
        records = dig(body, path)
        if records is _MISSING:
            keys = ", ".join(list(body)[:10]) if isinstance(body, dict) else type(body).__name__
            raise DataError(
                f"records_path {path!r} not found in the response body",
                location=where,
                hint=f"the body's top-level keys are: {keys}",
            )
        if isinstance(records, dict) and not path:
            raise DataError(
                "the response body is an object, not a list of records",
                location=where,
                hint=f"set records_path to the key holding the list (keys: "
                f"{', '.join(list(records)[:10])})",
            )
        if not isinstance(records, list):
            raise DataError(
                f"records_path {path!r} holds a {type(records).__name__}, not a list",
                location=where,
                hint="point records_path at the list of records",
            )
        return records

    def _total(self, body: Any, where: str) -> int:
        value = dig(body, self.settings.total_path or "")
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise DataError(
                f"total_path {self.settings.total_path!r} does not hold a number",
                location=where,
                hint="point total_path at the total record count, or remove it",
            )
        try:
            return int(value)
        except ValueError as exc:
            raise DataError(
                f"total_path {self.settings.total_path!r} holds {value!r}, not a number",
                location=where,
                hint="point total_path at the total record count, or remove it",
            ) from exc

    def _to_batch(self, records: list[Any], where: str) -> pa.RecordBatch:
        if not all(isinstance(r, dict) for r in records):
            raise DataError(
                "records must be JSON objects",
                location=where,
                hint="point records_path at a list of objects",
            )
        try:
            batch = pa.RecordBatch.from_pylist(records)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            batch = self._by_field(records, where)
        batch = conform(batch, declared=self._types, established=self._schema, location=where)
        self._schema = batch.schema
        return batch

    def _by_field(self, records: list[dict[str, Any]], where: str) -> pa.RecordBatch:
        """Slow path for a page whose fields mix types: declared strings take any JSON."""
        names = list(dict.fromkeys(key for record in records for key in record))
        arrays = []
        for name in names:
            declared = self._types.get(name)
            values = [record.get(name) for record in records]
            if declared is not None and pa.types.is_string(declared):
                values = [v if v is None or isinstance(v, str) else json.dumps(v) for v in values]
            try:
                arrays.append(to_array(values, declared))
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise DataError(
                    f"field {name!r} mixes value types: {str(exc).splitlines()[0]}",
                    location=where,
                    hint=f"declare its type in `columns` (e.g. {name}: string)",
                ) from exc
        return pa.RecordBatch.from_arrays(arrays, names=names)

    def _combine(self, batches: list[pa.RecordBatch]) -> pa.RecordBatch | None:
        if not batches:
            if self._types:
                return pa.RecordBatch.from_pylist([], schema=pa.schema(list(self._types.items())))
            return None
        if len(batches) == 1:
            return batches[0]
        schema = batches[-1].schema
        aligned = [
            conform(b, declared=self._types, established=schema, location="") for b in batches
        ]
        return pa.Table.from_batches(aligned, schema=schema).combine_chunks().to_batches()[0]


class RateLimitedError(TransientError):
    """The API asked to come back later (408, 425, 429, 502-504), maybe saying when."""

    retry_after: float | None = None
    """Seconds the API's ``Retry-After`` asked to wait, when it said."""


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
