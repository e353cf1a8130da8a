from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest


@pytest.fixture
def glue(local_services) -> Any:
    """A boto3 Glue client on the session's moto server."""
    return boto3.client("glue", endpoint_url=local_services.moto_endpoint, region_name="us-east-1")


@pytest.fixture
def database(glue) -> Iterator[str]:
    """A fresh Glue database name (not created), dropped after the test."""
    name = f"airlake_{uuid.uuid4().hex[:10]}"
    yield name
    with contextlib.suppress(glue.exceptions.EntityNotFoundException):
        glue.delete_database(Name=name)
