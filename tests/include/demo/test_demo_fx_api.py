from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from include.demo.fx_api import FxApiServer, rates_for, serve, stop

DAY = "2026-11-20"


@pytest.fixture
def server() -> Iterator[FxApiServer]:
    srv = serve("127.0.0.1", 0)  # a free port
    try:
        yield srv
    finally:
        stop(srv)


def _get(url: str, timeout: float = 5.0) -> tuple[int, dict[str, str], Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def test_rates_for_is_deterministic_and_well_formed() -> None:
    items = rates_for(DAY)
    assert items == rates_for(DAY)
    assert items != rates_for("2026-11-21")
    assert len(items) >= 11
    assert {"USD", "GBP", "CHF", "JPY", "SEK", "PLN"} <= {i["quote_currency"] for i in items}
    for item in items:
        assert item["rate_date"] == DAY
        assert item["base_currency"] == "EUR"
        assert len(item["rate"].split(".")[1]) == 8
        assert Decimal(item["rate"]) > 0
        assert item["published_at"].startswith(DAY)


def test_pages_concatenate_to_the_truth(server: FxApiServer) -> None:
    collected = []
    page, total_pages = 1, None
    while total_pages is None or page <= total_pages:
        status, _, body = _get(f"{server.url}/rates?date={DAY}&page={page}&page_size=5")
        assert status == 200
        assert body["page"] == page
        total_pages = body["total_pages"]
        collected.extend(body["items"])
        page += 1
    assert total_pages >= 2
    assert collected == rates_for(DAY)

    status, _, body = _get(f"{server.url}/rates?date={DAY}&page={total_pages + 1}&page_size=5")
    assert status == 200
    assert body["items"] == []


@pytest.mark.parametrize(
    "query",
    ["", "date=2026-13-01", f"date={DAY}&page=0", f"date={DAY}&page_size=abc", f"date={DAY}&fail_status=200"],
)
def test_bad_requests_answer_400(server: FxApiServer, query: str) -> None:
    status, _, body = _get(f"{server.url}/rates?{query}")
    assert status == 400
    assert body["error"]


def test_unknown_path_and_health(server: FxApiServer) -> None:
    assert _get(f"{server.url}/nope")[0] == 404
    status, _, body = _get(f"{server.url}/health")
    assert (status, body) == (200, {"status": "ok"})


@pytest.mark.parametrize("fault", [429, 503])
def test_server_wide_first_requests_fail_with_retry_after(server: FxApiServer, fault: int) -> None:
    server.set_faults(fail_first=2, fail_status=fault, retry_after=3)
    url = f"{server.url}/rates?date={DAY}"
    for _ in range(2):
        status, headers, body = _get(url)
        assert status == fault
        assert headers["Retry-After"] == "3"
        assert body["status"] == fault
    status, _, body = _get(url)
    assert status == 200
    assert body["items"] == rates_for(DAY)[:5]
    assert server.request_count == 3


def test_server_option_at_start() -> None:
    srv = serve("127.0.0.1", 0, fail_first=1, fail_status=429)
    try:
        assert _get(f"{srv.url}/rates?date={DAY}")[0] == 429
        assert _get(f"{srv.url}/rates?date={DAY}")[0] == 200
    finally:
        stop(srv)


def test_per_url_fault_counts_each_url_separately(server: FxApiServer) -> None:
    page1 = f"{server.url}/rates?date={DAY}&page=1&fail_first=2&fail_status=429&retry_after=0"
    page2 = page1.replace("page=1", "page=2")
    assert [_get(page1)[0] for _ in range(3)] == [429, 429, 200]
    assert [_get(page2)[0] for _ in range(3)] == [429, 429, 200]
    assert _get(page1)[0] == 200  # stays healthy once the URL has failed its K times
    server.set_faults()  # restarts the counts
    assert _get(page1)[0] == 429


def test_slow_responses(server: FxApiServer) -> None:
    started = time.monotonic()
    assert _get(f"{server.url}/rates?date={DAY}&delay=0.3")[0] == 200
    assert time.monotonic() - started >= 0.3

    server.set_faults(delay=0.5)
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        urllib.request.urlopen(f"{server.url}/rates?date={DAY}", timeout=0.1)
