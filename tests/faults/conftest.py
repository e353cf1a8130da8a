"""Fixtures of the fault tests: a fault proxy in front of the session's moto server, and an Airflow AWS
connection (``aws_chaos``) that reaches moto only through it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.faults.proxy import FaultProxy

CHAOS_CONN = "aws_chaos"


@pytest.fixture
def fault_proxy(local_services: Any) -> Iterator[Callable[..., FaultProxy]]:
    """A factory of started fault proxies in front of moto (``FaultProxy`` arguments); stopped after the test."""
    started: list[FaultProxy] = []

    def make(**kwargs: Any) -> FaultProxy:
        proxy = FaultProxy(local_services.moto_endpoint, **kwargs).start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()


@pytest.fixture
def chaos_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``chaos_conn(proxy, **extra)``: the connection id of an AWS connection whose endpoint is the proxy;
    ``extra`` is added to the connection's extra (``config_kwargs`` ...)."""

    def make(proxy: FaultProxy, **extra: Any) -> str:
        document = {"region_name": "us-east-1", "endpoint_url": proxy.endpoint, **extra}
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{CHAOS_CONN.upper()}", json.dumps({"conn_type": "aws", "extra": document})
        )
        return CHAOS_CONN

    return make


@pytest.fixture(autouse=True)
def short_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's backoff between attempts, 20 times shorter: these tests count retries, and a 10 % fault
    rate would otherwise sleep ~0.5 s per retry. The retry decisions are botocore's own."""
    from botocore.retries import standard

    delay = standard.ExponentialBackoff.delay_amount
    monkeypatch.setattr(
        standard.ExponentialBackoff, "delay_amount", lambda self, context: delay(self, context) / 20
    )


_MODELS: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def shared_botocore_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's JSON models parsed once for these tests, not once per client: every hook has its own
    boto3 session, whose loader parses the S3 and Glue models again (~1 s a client on 2 busy cores, most
    of a chaos run's time). botocore shares the same parsed dicts between the clients of one session."""
    from botocore.loaders import JSONFileLoader

    load = JSONFileLoader.load_file

    def cached(self: Any, file_path: str) -> Any:
        if file_path not in _MODELS:
            _MODELS[file_path] = load(self, file_path)
        return _MODELS[file_path]

    monkeypatch.setattr(JSONFileLoader, "load_file", cached)
