"""The stack's Airflow start waits for the execution API's first answer (its routes are built lazily)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from include.local_stack.services import StackError
from include.local_stack.services import airflow as airflow_service


class _Execution(BaseHTTPRequestHandler):
    """/execution/health answers 503 for the first ``failures`` requests, then 200."""

    failures: ClassVar[int] = 0
    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).paths.append(self.path)
        status = 503 if len(type(self).paths) <= type(self).failures else 200
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def execution_api() -> Iterator[tuple[int, type[_Execution]]]:
    handler = type("Handler", (_Execution,), {"failures": 2, "paths": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()


def test_warm_up_retries_until_the_execution_api_answers(
    execution_api: tuple[int, type[_Execution]], tmp_path: Path
) -> None:
    port, handler = execution_api
    airflow_service._warm_execution_api(port, deadline=time.monotonic() + 30, log_path=tmp_path / "a.log")
    assert handler.paths == ["/execution/health"] * 3


def test_warm_up_gives_up_at_the_deadline(
    execution_api: tuple[int, type[_Execution]], tmp_path: Path
) -> None:
    port, handler = execution_api
    handler.failures = 1000
    with pytest.raises(StackError, match="execution API did not answer"):
        airflow_service._warm_execution_api(
            port, deadline=time.monotonic() + 1.5, log_path=tmp_path / "a.log"
        )
    assert handler.paths and set(handler.paths) == {"/execution/health"}
