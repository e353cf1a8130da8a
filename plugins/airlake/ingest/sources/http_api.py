"""HTTP JSON APIs: page through an endpoint for the run's data interval, one batch per page.

The request is keyed on the data interval (``params`` are already rendered, e.g. ``{"date": "2026-11-20"}``):
the same params give the same data, so there is no checkpoint (``{}``) and a retry simply asks again.

Transient failures (429, 500, 502, 503, 504, connection errors, timeouts) are retried with exponential
backoff and jitter, honouring ``Retry-After``; any other error status fails at once, naming the URL and the
status. URLs in logs, errors and the manifest never carry credentials: user info is dropped and query
parameters that look secret (key, token, secret, password, signature, auth, credential) are masked.
Request headers are never logged.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from airlake.ingest.base import IngestContext, IngestSource, SourceBatch

if TYPE_CHECKING:
    from airlake.contracts.model import HttpSource

log = logging.getLogger(__name__)

Fetch = Callable[[str, Mapping[str, Any]], tuple[int, Mapping[str, str], Any]]
"""``fetch(url, params) -> (status, headers, parsed JSON body)``: one GET, no retries.

Raise ``ConnectionError``/``TimeoutError`` (or the requests equivalents) for transient transport
failures, ``ValueError`` when a successful response is not JSON.
"""
Pagination = Literal["page", "cursor", "none"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    ConnectionError,
    TimeoutError,
)
SECRET_PARAM = re.compile(r"key|token|secret|passw|pwd|signature|sig$|auth|credential|session", re.IGNORECASE)
MASK = "***"


class HttpApiError(RuntimeError):
    """The API answered with an error, or kept failing after every retry.

    ``transient`` (read by :func:`airlake.errors.is_transient`): True only when every retry met a
    connection error, a timeout, 429 or 5xx, so a task retry later may succeed; an answer that is wrong
    (4xx, not JSON, not the declared shape) fails the task at once.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def session_fetch(session: requests.Session, *, timeout_seconds: float) -> Fetch:
    """A :data:`Fetch` over a requests Session (auth, headers, TLS settings come with the session)."""

    def fetch(url: str, params: Mapping[str, Any]) -> tuple[int, Mapping[str, str], Any]:
        response = session.get(url, params=dict(params), timeout=(timeout_seconds, timeout_seconds))
        body = None
        if response.ok:
            body = response.json()  # requests raises a ValueError subclass when it is not JSON
        return response.status_code, response.headers, body

    return fetch


def redact_url(
    url: str, params: Mapping[str, Any] | None = None, *, secret: re.Pattern[str] = SECRET_PARAM
) -> str:
    """``url`` plus ``params`` as a loggable URL: no user info, secret-looking query values masked."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    query = parse_qsl(parts.query, keep_blank_values=True) + [
        (str(k), str(v)) for k, v in (params or {}).items()
    ]
    masked = [(name, MASK if secret.search(name) else value) for name, value in query]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(masked, safe="*"), ""))


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _dig(document: Any, path: str | None) -> Any:
    """``document["a"]["b"]`` for ``path`` "a.b"; the document itself for None; None when missing."""
    if path is None:
        return document
    for name in path.split("."):
        if not isinstance(document, dict) or name not in document:
            return None
        document = document[name]
    return document


class HttpApiSource(IngestSource):
    """Every item of a paginated JSON endpoint, one :class:`SourceBatch` per page.

    Pagination ``"page"`` sends ``page_param`` (from ``first_page``) and ``size_param`` = ``page_size``
    and stops at ``total_pages_field`` (when the response has it), at a page with fewer than
    ``page_size`` items, or at an empty page. ``"cursor"`` sends ``cursor_param`` from the previous
    response's ``next_cursor_field`` and stops when that is missing or empty, or at an empty page.
    ``"none"`` is a single request. ``items_field`` (dotted, e.g. ``"data.items"``; None when the body is
    the list itself) locates the items.

    Give ``session`` (e.g. ``HttpHook(...).get_conn()``, which carries the connection's auth and headers),
    or ``fetch`` (any :data:`Fetch`), or neither for a plain Session; see also :meth:`with_session`.
    """

    kind: ClassVar[str] = "http"

    def __init__(
        self,
        *,
        base_url: str,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        pagination: Pagination = "page",
        items_field: str | None = "items",
        page_param: str = "page",
        size_param: str | None = "page_size",
        page_size: int = 100,
        first_page: int = 1,
        total_pages_field: str | None = "total_pages",
        cursor_param: str = "cursor",
        next_cursor_field: str = "next_cursor",
        session: requests.Session | None = None,
        fetch: Fetch | None = None,
        timeout_seconds: float = 30.0,
        max_retries: int = 5,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
        max_pages: int = 10_000,
    ) -> None:
        if pagination not in ("page", "cursor", "none"):
            raise ValueError(f"pagination must be 'page', 'cursor' or 'none', got {pagination!r}")
        if session is not None and fetch is not None:
            raise ValueError("give session or fetch, not both")
        if page_size < 1 or max_pages < 1 or max_retries < 0 or timeout_seconds <= 0:
            raise ValueError("page_size and max_pages must be >= 1, max_retries >= 0, timeout_seconds > 0")
        self.base_url = base_url
        self.endpoint = endpoint
        self.params = dict(params or {})
        self.pagination = pagination
        self.items_field = items_field
        self.page_param = page_param
        self.size_param = size_param
        self.page_size = page_size
        self.first_page = first_page
        self.total_pages_field = total_pages_field
        self.cursor_param = cursor_param
        self.next_cursor_field = next_cursor_field
        self.session = session
        self.fetch = fetch
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.max_pages = max_pages

    @classmethod
    def with_session(
        cls,
        *,
        base_url: str,
        endpoint: str,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        verify: bool | str = True,
        **kwargs: Any,
    ) -> HttpApiSource:
        """A source over a new Session with ``headers`` and ``auth`` (what an HTTP connection provides)."""
        session = requests.Session()
        session.headers["Accept"] = "application/json"
        session.headers.update(dict(headers or {}))
        session.auth = auth
        session.verify = verify
        return cls(base_url=base_url, endpoint=endpoint, session=session, **kwargs)

    @classmethod
    def from_spec(
        cls, spec: HttpSource, *, base_url: str, params: Mapping[str, Any], session: requests.Session
    ) -> HttpApiSource:
        """The source a contract's ``source`` (kind ``http``) declares, with ``params`` rendered: the
        pagination's fields are this class's arguments of the same names (its ``style`` is
        ``pagination``)."""
        page = spec.pagination
        return cls(
            base_url=base_url,
            endpoint=spec.endpoint,
            params=params,
            session=session,
            timeout_seconds=spec.timeout_seconds,
            max_retries=spec.max_retries,
            pagination=page.style,
            **page.model_dump(exclude={"style"}),
        )

    @property
    def url(self) -> str:
        if urlsplit(self.endpoint).scheme:
            return self.endpoint
        return f"{self.base_url.rstrip('/')}/{self.endpoint.lstrip('/')}"

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "url": redact_url(self.url, self.params), "pagination": self.pagination}

    def batches(self, ctx: IngestContext, checkpoint: dict[str, Any] | None) -> Iterator[SourceBatch]:
        own_session = None
        fetch = self.fetch
        if fetch is None:
            session = self.session
            if session is None:
                session = own_session = requests.Session()
                session.headers["Accept"] = "application/json"
            fetch = session_fetch(session, timeout_seconds=self.timeout_seconds)
        try:
            yield from self._pages(fetch)
        finally:
            if own_session is not None:
                own_session.close()

    def _pages(self, fetch: Fetch) -> Iterator[SourceBatch]:
        recorded_url = redact_url(self.url, self.params)
        cursor: str | None = None
        seen_cursors: set[str] = set()
        for number in range(1, self.max_pages + 1):
            params = dict(self.params)
            page = self.first_page + number - 1
            if self.pagination == "page":
                params[self.page_param] = page
            elif self.pagination == "cursor" and cursor is not None:
                params[self.cursor_param] = cursor
            if self.pagination != "none" and self.size_param:
                params[self.size_param] = self.page_size
            body = self._get(fetch, params)
            items = _dig(body, self.items_field)
            if not isinstance(items, list):
                raise HttpApiError(
                    f"GET {redact_url(self.url, params)}: expected a list at "
                    f"{self.items_field or 'the top level'!r} of the response, got {type(items).__name__}"
                )
            log.info("GET %s page %d: %d item(s)", recorded_url, number, len(items))
            yield SourceBatch(
                checkpoint={},
                inputs=[
                    {
                        "url": recorded_url,
                        "page": page if self.pagination == "page" else number,
                        "rows": len(items),
                    }
                ],
                lines=[json.dumps(item, separators=(",", ":"), sort_keys=True).encode() for item in items],
                rows=len(items),
            )
            if self.pagination == "none" or not items:
                return
            if self.pagination == "page":
                total = _dig(body, self.total_pages_field) if self.total_pages_field else None
                if len(items) < self.page_size or (isinstance(total, int) and number >= total):
                    return
            else:
                cursor = _dig(body, self.next_cursor_field)
                if cursor is None or cursor == "":
                    return
                cursor = str(cursor)
                if cursor in seen_cursors:
                    raise HttpApiError(
                        f"GET {recorded_url}: the API returned a cursor it had returned before "
                        f"(page {number}); stopping instead of looping forever"
                    )
                seen_cursors.add(cursor)
        raise HttpApiError(
            f"GET {recorded_url}: more than max_pages={self.max_pages} pages; raise max_pages if that is expected"
        )

    def _get(self, fetch: Fetch, params: Mapping[str, Any]) -> Any:
        """One page, retried on transient failures. Errors name the (redacted) URL, never headers."""
        shown = redact_url(self.url, params)
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                status, headers, body = fetch(self.url, params)
            except TRANSIENT_ERRORS as error:
                # str(error) of requests' errors contains the full URL with its query: not logged.
                problem = type(error).__name__
            except ValueError:
                raise HttpApiError(f"GET {shown} succeeded but the response body is not JSON") from None
            except requests.RequestException as error:  # e.g. too many redirects, an invalid URL
                raise HttpApiError(f"GET {shown} failed: {type(error).__name__}") from None
            else:
                if 200 <= status < 300:
                    return body
                if status not in RETRY_STATUSES:
                    raise HttpApiError(
                        f"GET {shown} failed with HTTP {status}; not retried "
                        f"(only {', '.join(map(str, sorted(RETRY_STATUSES)))} and connection errors are)"
                    )
                problem = f"HTTP {status}"
                retry_after = retry_after_seconds(headers)
            if attempt == self.max_retries:
                raise HttpApiError(
                    f"GET {shown} still failing after {attempt + 1} attempt(s): {problem}", transient=True
                )
            delay = self._delay(attempt, retry_after)
            log.warning(
                "GET %s: %s; retry %d of %d in %.2fs", shown, problem, attempt + 1, self.max_retries, delay
            )
            time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff_seconds)
        ceiling = min(self.backoff_seconds * 2**attempt, self.max_backoff_seconds)
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography
