"""The stack's Airflow start waits for the execution API's first answer (its routes are built lazily) and
creates the DAGs' pools through the REST API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

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


@contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """A local HTTP server answering with ``handler`` in a thread; its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def execution_api() -> Iterator[tuple[int, type[_Execution]]]:
    handler = type("Handler", (_Execution,), {"failures": 2, "paths": []})
    with _serving(handler) as port:
        yield port, handler


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


class _PoolsApi(BaseHTTPRequestHandler):
    """Airflow's token and bulk pools endpoints: records what it was sent, creates what it is asked to."""

    sent: ClassVar[list[tuple[str, str, dict[str, Any], str | None]]] = []
    refuse: ClassVar[bool] = False

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def _record(self) -> dict[str, Any]:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).sent.append((self.command, self.path, body, self.headers.get("Authorization")))
        return body

    def do_POST(self) -> None:
        body = self._record()
        if body == {"username": "admin", "password": "pw"}:
            self._answer(201, {"access_token": "tok"})
        else:
            self._answer(401, {"detail": "bad login"})

    def do_PATCH(self) -> None:
        action = self._record()["actions"][0]
        names = [entity["name"] for entity in action["entities"]]
        errors = [{"error": "refused", "status_code": 409}] if type(self).refuse else []
        self._answer(200, {"create": {"success": [] if errors else names, "errors": errors}})

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def pools_api(tmp_path: Path) -> Iterator[tuple[int, type[_PoolsApi]]]:
    home = airflow_service.airflow_home(tmp_path)
    home.mkdir(parents=True)
    (home / "simple_auth_manager_passwords.json.generated").write_text('{"admin": "pw"}')
    handler = type("Handler", (_PoolsApi,), {"sent": [], "refuse": False})
    with _serving(handler) as port:
        yield port, handler


def test_pools_of_the_file_are_created_or_updated_through_the_api(
    pools_api: tuple[int, type[_PoolsApi]], tmp_path: Path
) -> None:
    port, handler = pools_api
    airflow_service._import_pools(port, tmp_path)

    pools = json.loads(airflow_service.POOLS_FILE.read_text())
    (login, token_path, _, _), (method, path, body, auth) = handler.sent
    assert (login, token_path, method, path, auth) == (
        "POST",
        "/auth/token",
        "PATCH",
        "/api/v2/pools",
        "Bearer tok",
    )
    assert body == {
        "actions": [
            {
                "action": "create",
                "action_on_existence": "overwrite",
                "entities": [{"name": name, **spec} for name, spec in pools.items()],
            }
        ]
    }
    assert {"airlake_query", "airlake_warehouse"} <= set(pools)
    assert all({"slots", "description", "include_deferred"} <= set(spec) for spec in pools.values())


def test_pools_not_created_fail_the_start(pools_api: tuple[int, type[_PoolsApi]], tmp_path: Path) -> None:
    port, handler = pools_api
    handler.refuse = True
    with pytest.raises(StackError, match="did not create the pools"):
        airflow_service._import_pools(port, tmp_path)
