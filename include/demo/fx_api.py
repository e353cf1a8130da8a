"""A tiny local FX-rates HTTP API, the demo shop's ``fx_rates`` source (standard library only).

    GET /rates?date=YYYY-MM-DD[&page=N][&page_size=M]
        -> {"items": [{"rate_date", "base_currency": "EUR", "quote_currency", "rate", "published_at"}],
            "page": N, "page_size": M, "total_pages": K, "total_items": T}
    GET /health -> {"status": "ok"}

Rates are a pure function of the date (``rates_for``), so tests use it as the independent truth.
``rate`` is a decimal string with 8 places. There are 12 quotes: 3 pages at ``page_size=5``.
A page after the last one answers 200 with no items; bad parameters answer 400 with ``{"error"}``.

Fault injection, for testing clients' retries and timeouts:

* server-wide: ``serve(..., fail_first=K, fail_status=503, retry_after=1, delay=0.0)`` (or the CLI
  flags ``--fail-first/--fail-status/--retry-after/--delay``): the first K ``/rates`` requests the
  server receives answer ``fail_status`` with a ``Retry-After`` header; every ``/rates`` response is
  delayed by ``delay`` seconds. ``server.set_faults(...)`` changes them at run time and restarts the count.
* per URL: query parameters ``fail_first=K`` (with optional ``fail_status`` and ``retry_after``) make the
  first K requests *for that exact URL* fail, so a client retrying the same URL succeeds on attempt
  K+1, and every page of a paginated read fails K times on its own; ``delay=S`` (seconds, at most 30)
  slows that request.

Run it with ``python -m include.demo.fx_api --host 127.0.0.1 --port 8765``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger(__name__)

BASE_CURRENCY = "EUR"
# Quote currency -> a plausible mid rate against EUR; each date's rate moves around it by up to +/-1.5%.
QUOTES: dict[str, Decimal] = {
    "AUD": Decimal("1.6500"),
    "CAD": Decimal("1.4800"),
    "CHF": Decimal("0.9500"),
    "CZK": Decimal("25.200"),
    "DKK": Decimal("7.4600"),
    "GBP": Decimal("0.8600"),
    "HUF": Decimal("395.00"),
    "JPY": Decimal("162.00"),
    "NOK": Decimal("11.700"),
    "PLN": Decimal("4.3300"),
    "SEK": Decimal("11.500"),
    "USD": Decimal("1.0800"),
}
DEFAULT_PAGE_SIZE = 5
MAX_PAGE_SIZE = 50
MAX_DELAY_SECONDS = 30.0
FAULT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_EIGHT_PLACES = Decimal("0.00000001")


def rates_for(day: date | str) -> list[dict[str, str]]:
    """All EUR-based rates published for ``day``, sorted by quote currency (pure, deterministic)."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    items = []
    for quote, mid in QUOTES.items():
        digest = hashlib.blake2b(f"fx|{day.isoformat()}|{quote}".encode(), digest_size=8).digest()
        jitter = Decimal(int.from_bytes(digest, "big")) / Decimal(2**64) - Decimal("0.5")  # [-0.5, 0.5)
        rate = (mid * (1 + jitter * Decimal("0.03"))).quantize(_EIGHT_PLACES, rounding=ROUND_HALF_UP)
        items.append(
            {
                "rate_date": day.isoformat(),
                "base_currency": BASE_CURRENCY,
                "quote_currency": quote,
                "rate": f"{rate:.8f}",
                "published_at": f"{day.isoformat()}T15:00:00+00:00",
            }
        )
    return items


@dataclass
class Faults:
    """Server-wide fault injection settings (see the module docstring)."""

    fail_first: int = 0
    fail_status: int = 503
    retry_after: int = 1
    delay: float = 0.0


class FxApiServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with fault-injection state. ``url`` is its base URL."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], faults: Faults | None = None) -> None:
        super().__init__(address, _Handler)
        self._lock = threading.Lock()
        self.faults = faults or Faults()
        self.request_count = 0  # /rates requests received, faulty or not
        self._server_faults_served = 0
        self._url_faults_served: dict[str, int] = {}

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def set_faults(
        self, *, fail_first: int = 0, fail_status: int = 503, retry_after: int = 1, delay: float = 0.0
    ) -> None:
        """Replace the server-wide faults and restart every fault count (server-wide and per URL)."""
        faults = Faults(fail_first, _fault_status(fail_status), retry_after, delay)
        with self._lock:
            self.faults = faults
            self._server_faults_served = 0
            self._url_faults_served.clear()
            self.request_count = 0

    def _next_fault(
        self, url_key: str, url_fail_first: int, url_status: int, url_retry: int
    ) -> tuple[int, int]:
        """Count one /rates request; return (status, retry_after) to inject, status 0 for none."""
        with self._lock:
            self.request_count += 1
            if self._server_faults_served < self.faults.fail_first:
                self._server_faults_served += 1
                return self.faults.fail_status, self.faults.retry_after
            served = self._url_faults_served.get(url_key, 0)
            if served < url_fail_first:
                self._url_faults_served[url_key] = served + 1
                return url_status, url_retry
        return 0, 0


class _BadRequest(ValueError):
    pass


def _fault_status(value: int) -> int:
    if value not in FAULT_STATUSES:
        raise _BadRequest(f"fail_status must be one of {sorted(FAULT_STATUSES)}, got {value}")
    return value


def _int_param(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _BadRequest(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise _BadRequest(f"{name} must be between {low} and {high}, got {value}")
    return value


class _Handler(BaseHTTPRequestHandler):
    server: FxApiServer
    server_version = "AirlakeFxApi/1.0"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/health":
            self._send_json(HTTPStatus.OK, {"status": "ok"})
            return
        if parts.path != "/rates":
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no such path: {parts.path}"})
            return
        try:
            self._rates(parts.path, parts.query)
        except _BadRequest as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})

    def _rates(self, path: str, query: str) -> None:
        params = dict(parse_qsl(query, keep_blank_values=True))
        url_fail_first = _int_param(params, "fail_first", 0, 0, 1000)
        url_status = _fault_status(_int_param(params, "fail_status", 503, 100, 599))
        url_retry = _int_param(params, "retry_after", 1, 0, 3600)
        try:
            url_delay = float(params.get("delay", "0"))
        except ValueError:
            raise _BadRequest(f"delay must be a number of seconds, got {params['delay']!r}") from None
        if not 0 <= url_delay <= MAX_DELAY_SECONDS:
            raise _BadRequest(f"delay must be between 0 and {MAX_DELAY_SECONDS} seconds")

        url_key = f"{path}?{'&'.join(f'{k}={v}' for k, v in sorted(params.items()))}"
        status, retry_after = self.server._next_fault(url_key, url_fail_first, url_status, url_retry)
        delay = max(self.server.faults.delay, url_delay)
        if delay:
            time.sleep(delay)
        if status:
            self._send_json(
                status,
                {"error": "injected fault", "status": status},
                {"Retry-After": str(retry_after)},
            )
            return

        raw_date = params.get("date")
        if not raw_date:
            raise _BadRequest("date is required (YYYY-MM-DD)")
        try:
            day = date.fromisoformat(raw_date)
        except ValueError:
            raise _BadRequest(f"date must be YYYY-MM-DD, got {raw_date!r}") from None
        page = _int_param(params, "page", 1, 1, 1_000_000)
        page_size = _int_param(params, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        items = rates_for(day)
        total_pages = max(1, -(-len(items) // page_size))
        start = (page - 1) * page_size
        self._send_json(
            HTTPStatus.OK,
            {
                "items": items[start : start + page_size],
                "page": page,
                "page_size": page_size,
                "total_pages": total_pages,
                "total_items": len(items),
            },
        )


def make_server(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    fail_first: int = 0,
    fail_status: int = 503,
    retry_after: int = 1,
    delay: float = 0.0,
) -> FxApiServer:
    """Bind the server without starting it (port 0 picks a free port)."""
    return FxApiServer((host, port), Faults(fail_first, _fault_status(fail_status), retry_after, delay))


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    fail_first: int = 0,
    fail_status: int = 503,
    retry_after: int = 1,
    delay: float = 0.0,
) -> FxApiServer:
    """Start the server in a daemon thread and return it; stop it with ``stop(server)``."""
    server = make_server(
        host, port, fail_first=fail_first, fail_status=fail_status, retry_after=retry_after, delay=delay
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=f"fx-api-{server.url}", daemon=True
    )
    thread.start()
    return server


def stop(server: FxApiServer) -> None:
    """Stop a server started by ``serve`` and release its socket."""
    server.shutdown()
    server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.demo.fx_api", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--fail-first", type=int, default=0, help="first K /rates requests fail")
    parser.add_argument("--fail-status", type=int, default=503, choices=sorted(FAULT_STATUSES))
    parser.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds of injected faults")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before every /rates answer")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    server = make_server(
        args.host,
        args.port,
        fail_first=args.fail_first,
        fail_status=args.fail_status,
        retry_after=args.retry_after,
        delay=args.delay,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log.info("fx API listening on %s", server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        log.info("fx API stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
