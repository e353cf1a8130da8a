"""The services the bench needs (moto server, PostgreSQL 15), on free ports, started with the project's scripts.

The bench never touches a developer's running stack: it starts its own moto and PostgreSQL under
``<work dir>/stack`` on free ports (as tests/conftest.py does) and stops them when the run ends.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BUCKET = "airlake-bench"
DATABASE = "airlake_bench"
PG_USER = "airlake"
PG_DATABASE = "warehouse"
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    """Endpoints of the bench's services (empty until started)."""

    state_dir: Path
    moto_port: int | None = None
    pg_port: int | None = None
    started: list[str] = field(default_factory=list)

    @property
    def moto_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def pg_dsn(self) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.pg_port}/{PG_DATABASE}"

    def start(self, *, moto: bool, postgres: bool) -> None:
        from include.local_stack import services

        if moto and self.moto_port is None:
            self.moto_port = free_port()
            services.start_moto(port=self.moto_port, state_dir=self.state_dir)
            self.started.append("moto")
        if postgres and self.pg_port is None:
            self.pg_port = free_port()
            services.start_postgres(port=self.pg_port, state_dir=self.state_dir, databases=(PG_DATABASE,))
            self.started.append("postgres")

    def stop(self) -> None:
        from include.local_stack import services

        if "postgres" in self.started:
            services.stop_postgres(state_dir=self.state_dir)
        if "moto" in self.started:
            services.stop_moto(state_dir=self.state_dir)
        self.started.clear()

    def pids(self) -> dict[str, int]:
        """Pids of the running services (their memory is watched during runs, reported apart)."""
        from include.local_stack import services

        found: dict[str, int] = {}
        if "moto" in self.started:
            pid = services.moto_pid(state_dir=self.state_dir)
            if pid:
                found["moto"] = pid
        if "postgres" in self.started:
            pid = services.postgres_pid(state_dir=self.state_dir)
            if pid:
                found["postgres"] = pid
        return found

    def env(self) -> dict[str, str]:
        """Connections for the workers: the Airflow-style variables the project's hooks read."""
        env: dict[str, str] = {}
        if self.moto_port is not None:
            env["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
                {
                    "conn_type": "aws",
                    "extra": {"region_name": "us-east-1", "endpoint_url": self.moto_endpoint},
                }
            )
            env["AIRLAKE_BENCH_MOTO"] = self.moto_endpoint
        if self.pg_port is not None:
            env["AIRLAKE_BENCH_PG_DSN"] = self.pg_dsn
            env["AIRLAKE_BENCH_PG_PORT"] = str(self.pg_port)
        return env


def reset_moto(endpoint: str) -> None:
    """Empty moto (it keeps every object in memory: a few GB after the bigger runs)."""
    if not endpoint.startswith("http://127.0.0.1:"):
        raise ValueError(f"not the bench's local moto: {endpoint!r}")
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST", data=b"")  # noqa: S310
    with _HTTP.open(request, timeout=60) as response:
        response.read()


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="moto-local",
        aws_secret_access_key="moto-local",  # noqa: S106 - moto accepts any key
    )


def glue_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "glue",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="moto-local",
        aws_secret_access_key="moto-local",  # noqa: S106 - moto accepts any key
    )
