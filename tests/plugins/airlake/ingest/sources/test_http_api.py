from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from airlake.errors import is_transient
from airlake.ingest.runner import run_ingest
from airlake.ingest.sources.http_api import HttpApiError, HttpApiSource, redact_url, retry_after_seconds
from airlake.lake import state_key

TOKEN = "s3cret-bearer-token"
API_KEY = "hunter2-api-key"
DATE = "2026-11-20"
ITEMS: list[dict[str, Any]] = [
    {"id": i, "name": f"item {i}", "price": i * 1.5, "nested": {"z": 1, "a": None}, "tags": ["b", "a"]}
    for i in range(7)
]


class Api(ThreadingHTTPServer):
    """A paginated JSON API on a free local port; counts the requests made to each path."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ApiHandler)
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """The slow endpoint answers a client that has timed out and gone: not an error here."""


class ApiHandler(BaseHTTPRequestHandler):
    server: Api

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        with self.server.lock:
            self.server.hits[url.path] += 1
            hit = self.server.hits[url.path]
        if self.headers.get("Authorization") != f"Bearer {TOKEN}" or query.get("api_key") != API_KEY:
            return self.reply(401, {"error": "unauthorized"})
        items = [item | {"date": query.get("date")} for item in ITEMS]
        size = int(query.get("page_size", 3))
        match url.path:
            case "/v1/pages" | "/v1/pages-no-total":
                page = int(query["page"])
                body: dict[str, Any] = {"items": items[(page - 1) * size : page * size], "page": page}
                if url.path == "/v1/pages":
                    body["total_pages"] = math.ceil(len(items) / size)
                self.reply(200, body)
            case "/v1/cursor":
                offset = int(query.get("cursor", "c0")[1:])
                more = offset + size < len(items)
                self.reply(
                    200,
                    {
                        "data": {"items": items[offset : offset + size]},
                        "next": f"c{offset + size}" if more else None,
                    },
                )
            case "/v1/flaky":
                if hit == 1:
                    self.reply(429, {"error": "slow down"}, {"Retry-After": "0"})
                elif hit == 2:
                    self.reply(503, {"error": "unavailable"})
                else:
                    self.reply(200, {"items": items[:2]})
            case "/v1/slow":
                if hit == 1:
                    time.sleep(1.0)  # longer than the client's timeout
                self.reply(200, {"items": items[:2]})
            case "/v1/down":
                self.reply(503, {"error": "unavailable"})
            case "/v1/not-json":
                self.reply(200, "<html>maintenance</html>")
            case _:
                self.reply(404, {"error": "not found"})
        return None

    def reply(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if isinstance(body, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def http_source(base_url: str, endpoint: str, *, token: str = TOKEN, **kwargs: Any) -> HttpApiSource:
    options: dict[str, Any] = {
        "params": {"date": DATE, "api_key": API_KEY},
        "page_size": 3,
        "backoff_seconds": 0.01,
        "timeout_seconds": 2.0,
    } | kwargs
    return HttpApiSource.with_session(
        base_url=base_url, endpoint=endpoint, headers={"Authorization": f"Bearer {token}"}, **options
    )


def lines_of(items: list[dict[str, Any]]) -> list[bytes]:
    return [
        json.dumps(item | {"date": DATE}, separators=(",", ":"), sort_keys=True).encode() for item in items
    ]


def own_log(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("airlake"))


def test_every_page_lands_once_encrypted_and_no_secret_reaches_the_manifest_or_the_log(
    api: Api,
    s3_lake: Any,
    ctx_for: Callable[..., Any],
    landed: Any,
    assert_encrypted: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="airlake")
    summary = run_ingest(http_source(api.base_url, "/v1/pages"), s3_lake, ctx_for("run-1"))

    assert landed(s3_lake, summary["parts"]) == lines_of(ITEMS)
    assert summary["rows"] == len(ITEMS)
    assert_encrypted(s3_lake, summary["parts"])
    manifest = s3_lake.get_json(summary["manifest"])
    url = f"{api.base_url}/v1/pages?date={DATE}&api_key=***"
    assert manifest["inputs"] == [
        {"url": url, "page": 1, "rows": 3},
        {"url": url, "page": 2, "rows": 3},
        {"url": url, "page": 3, "rows": 1},
    ]
    assert manifest["source"] == {"kind": "http", "url": url, "pagination": "page"}
    assert manifest["rows"] == {"read": 7, "landed": 7}
    assert s3_lake.get_json(state_key("events", "ingest"))["checkpoint"] == {}
    stored = json.dumps(manifest) + json.dumps(s3_lake.get_json(state_key("events", "ingest")))
    assert API_KEY not in stored and TOKEN not in stored
    assert own_log(caplog) and API_KEY not in own_log(caplog) and TOKEN not in own_log(caplog)

    hits = api.hits["/v1/pages"]
    rerun = run_ingest(http_source(api.base_url, "/v1/pages"), s3_lake, ctx_for("run-1"))
    assert rerun["skipped"] and rerun["parts"] == summary["parts"] and api.hits["/v1/pages"] == hits


@pytest.mark.parametrize(
    ("endpoint", "options", "pages"),
    [
        pytest.param("/v1/pages", {}, [3, 3, 1], id="page-stops-at-total-pages"),
        pytest.param("/v1/pages", {"page_size": 7}, [7], id="page-full-last-page-stops-at-total"),
        pytest.param("/v1/pages-no-total", {}, [3, 3, 1], id="page-stops-at-short-page"),
        pytest.param("/v1/pages-no-total", {"page_size": 7}, [7, 0], id="page-stops-at-empty-page"),
        pytest.param(
            "/v1/cursor",
            {"pagination": "cursor", "items_field": "data.items", "next_cursor_field": "next"},
            [3, 3, 1],
            id="cursor-until-no-next-cursor",
        ),
        pytest.param("/v1/flaky", {"pagination": "none", "backoff_seconds": 0}, [2], id="single-request"),
    ],
)
def test_pagination_styles(
    api: Api, ctx_for: Callable[..., Any], endpoint: str, options: dict[str, Any], pages: list[int]
) -> None:
    batches = list(http_source(api.base_url, endpoint, **options).batches(ctx_for("run-1"), None))

    assert [batch.rows for batch in batches] == pages
    assert [item["rows"] for batch in batches for item in batch.inputs] == pages
    assert [line for batch in batches for line in batch.lines or []] == lines_of(ITEMS[: sum(pages)])
    assert all(batch.checkpoint == {} for batch in batches)
    if endpoint != "/v1/flaky":
        assert api.hits[endpoint] == len(pages)


def test_429_with_retry_after_then_503_are_retried(
    api: Api, ctx_for: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    batches = list(http_source(api.base_url, "/v1/flaky").batches(ctx_for("run-1"), None))

    assert [line for batch in batches for line in batch.lines or []] == lines_of(ITEMS[:2])
    assert api.hits["/v1/flaky"] == 3
    assert time.monotonic() - started < 2  # Retry-After: 0 and a tiny backoff, not the defaults
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("airlake") and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 2 and "HTTP 429" in warnings[0] and "HTTP 503" in warnings[1]
    assert all(API_KEY not in message for message in warnings)


def test_a_timeout_is_retried(
    api: Api, ctx_for: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    source = http_source(api.base_url, "/v1/slow", timeout_seconds=0.3)
    batches = list(source.batches(ctx_for("run-1"), None))

    assert [batch.rows for batch in batches] == [2]
    assert api.hits["/v1/slow"] == 2
    assert "Timeout" in own_log(caplog)


@pytest.mark.parametrize(
    ("endpoint", "token", "status"),
    [
        pytest.param("/v1/nowhere", TOKEN, 404, id="not-found"),
        pytest.param("/v1/pages", "wrong-token", 401, id="unauthorized"),
    ],
)
def test_client_errors_fail_at_once_naming_the_url_and_status(
    api: Api, ctx_for: Callable[..., Any], endpoint: str, token: str, status: int
) -> None:
    source = http_source(api.base_url, endpoint, token=token)
    with pytest.raises(HttpApiError) as raised:
        list(source.batches(ctx_for("run-1"), None))

    message = str(raised.value)
    assert f"HTTP {status}" in message
    assert f"{api.base_url}{endpoint}?date={DATE}&api_key=***&page=1&page_size=3" in message
    assert API_KEY not in message and TOKEN not in message and token not in message
    assert api.hits[endpoint] == 1
    assert not is_transient(raised.value)  # the task fails at once, no Airflow retry


def test_a_server_that_stays_down_fails_after_max_retries(api: Api, ctx_for: Callable[..., Any]) -> None:
    source = http_source(api.base_url, "/v1/down", max_retries=2)
    with pytest.raises(HttpApiError, match=r"still failing after 3 attempt\(s\): HTTP 503") as raised:
        list(source.batches(ctx_for("run-1"), None))
    assert api.hits["/v1/down"] == 3
    assert is_transient(raised.value)  # a task retry later may find it up again


def test_connection_errors_are_retried_then_reported_without_the_query(ctx_for: Callable[..., Any]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket is closed
    source = http_source(f"http://127.0.0.1:{port}", "/v1/pages", max_retries=1)
    with pytest.raises(HttpApiError, match="after 2 attempt") as raised:
        list(source.batches(ctx_for("run-1"), None))
    assert "ConnectionError" in str(raised.value) and API_KEY not in str(raised.value)
    assert raised.value.__cause__ is None
    assert is_transient(raised.value)


def test_a_body_that_is_not_json_fails_clearly(api: Api, ctx_for: Callable[..., Any]) -> None:
    with pytest.raises(HttpApiError, match=r"/v1/not-json\?.*not JSON") as raised:
        list(http_source(api.base_url, "/v1/not-json").batches(ctx_for("run-1"), None))
    assert api.hits["/v1/not-json"] == 1
    assert not is_transient(raised.value)


def test_a_fetch_callable_replaces_the_session(ctx_for: Callable[..., Any]) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def fetch(url: str, params: Mapping[str, Any]) -> tuple[int, Mapping[str, str], Any]:
        calls.append((url, dict(params)))
        if len(calls) == 1:
            raise ConnectionError("reset by peer")
        return 200, {}, [{"b": 1, "a": "\u00e9"}]

    source = HttpApiSource(
        base_url="https://api.example.com/",
        endpoint="v2/things",
        params={"day": DATE},
        pagination="none",
        items_field=None,
        fetch=fetch,
        backoff_seconds=0,
    )
    batches = list(source.batches(ctx_for("run-1"), None))

    assert [line for batch in batches for line in batch.lines or []] == [b'{"a":"\\u00e9","b":1}']
    assert calls == [("https://api.example.com/v2/things", {"day": DATE})] * 2
    assert batches[0].inputs == [
        {"url": f"https://api.example.com/v2/things?day={DATE}", "page": 1, "rows": 1}
    ]


def test_items_that_are_not_a_list_fail_clearly(ctx_for: Callable[..., Any]) -> None:
    source = HttpApiSource(
        base_url="https://api.example.com",
        endpoint="/v2/things",
        fetch=lambda url, params: (200, {}, {"items": {"not": "a list"}}),
    )
    with pytest.raises(HttpApiError, match=r"expected a list at 'items'.*got dict"):
        list(source.batches(ctx_for("run-1"), None))


def test_a_repeated_cursor_stops_the_run_instead_of_looping(ctx_for: Callable[..., Any]) -> None:
    source = HttpApiSource(
        base_url="https://api.example.com",
        endpoint="/v2/things",
        pagination="cursor",
        fetch=lambda url, params: (200, {}, {"items": [{"n": 1}], "next_cursor": "same"}),
    )
    with pytest.raises(HttpApiError, match="cursor it had returned before"):
        list(source.batches(ctx_for("run-1"), None))


@pytest.mark.parametrize(
    ("url", "params", "expected"),
    [
        pytest.param("https://h/p", {"date": DATE}, f"https://h/p?date={DATE}", id="plain"),
        pytest.param(
            "https://user:pw@h:8443/p?token=abc",
            {"api_key": "k", "Signature": "s", "page": 2},
            "https://h:8443/p?token=***&api_key=***&Signature=***&page=2",
            id="user-info-dropped-secrets-masked",
        ),
        pytest.param("https://h/p", None, "https://h/p", id="no-query"),
    ],
)
def test_redact_url(url: str, params: dict[str, Any] | None, expected: str) -> None:
    assert redact_url(url, params) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({"Retry-After": "0"}, 0.0, id="zero"),
        pytest.param({"retry-after": "2.5"}, 2.5, id="seconds-any-case"),
        pytest.param({"Retry-After": "-3"}, 0.0, id="negative-clamped"),
        pytest.param(
            {"Retry-After": format_datetime(datetime(2000, 1, 1, tzinfo=UTC), usegmt=True)},
            0.0,
            id="past-date",
        ),
        pytest.param({"Retry-After": "soon"}, None, id="garbage"),
        pytest.param({}, None, id="absent"),
    ],
)
def test_retry_after_seconds(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers) == expected


def test_retry_after_as_a_future_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    seconds = retry_after_seconds({"Retry-After": when})
    assert seconds is not None and 25 <= seconds <= 30
