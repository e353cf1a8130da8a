"""The fault proxy itself: loopback only, seeded, bounded, and a lost reply is applied by moto."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.faults.proxy import FaultProxy, operation_of

NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})


def _client(service: str, proxy: FaultProxy) -> Any:
    return boto3.client(service, endpoint_url=proxy.endpoint, region_name="us-east-1", config=NO_RETRY)


def test_refuses_an_upstream_off_this_machine() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy("http://example.com:5000")


def _pattern(proxy: FaultProxy, calls: int) -> list[bool]:
    glue = _client("glue", proxy)
    failed = []
    for _ in range(calls):
        try:
            glue.get_databases()
            failed.append(False)
        except ClientError:
            failed.append(True)
    return failed


def test_faults_are_seeded_and_bounded(fault_proxy) -> None:
    first = _pattern(fault_proxy(seed=7, rate=0.3), 24)
    again = _pattern(fault_proxy(seed=7, rate=0.3), 24)
    other = _pattern(fault_proxy(seed=8, rate=0.3), 24)
    bounded = fault_proxy(seed=7, rate=1.0, max_faults=5)

    assert first == again
    assert first != other
    assert 2 <= sum(first) <= 14
    assert _pattern(bounded, 12) == [True] * 5 + [False] * 7
    assert bounded.stats.faults == 5 and bounded.stats.requests == 12


def test_a_lost_reply_is_applied_upstream_and_reported_as_an_error(fault_proxy, lake) -> None:
    proxy = fault_proxy()
    proxy.script("s3:PutObject", "lost", status=503)
    s3 = _client("s3", proxy)
    key = f"probe/{uuid.uuid4().hex}.txt"

    with pytest.raises(ClientError, match="SlowDown"):
        s3.put_object(Bucket=lake.bucket, Key=key, Body=b"applied", ServerSideEncryption="AES256")

    assert lake.client.get_object(Bucket=lake.bucket, Key=key)["Body"].read() == b"applied"
    assert proxy.stats.summary()["by_operation"] == {"lost s3:PutObject": 1}


@pytest.mark.parametrize(
    ("method", "path", "headers", "operation"),
    [
        pytest.param(
            "POST", "/", {"X-Amz-Target": "AWSGlue.BatchCreatePartition"}, "glue:BatchCreatePartition"
        ),
        pytest.param("POST", "/b/k?uploads", {}, "s3:CreateMultipartUpload", id="create-upload"),
        pytest.param("POST", "/b/k?uploadId=1", {}, "s3:CompleteMultipartUpload", id="complete"),
        pytest.param("PUT", "/b/k?partNumber=1&uploadId=1", {}, "s3:UploadPart", id="part"),
        pytest.param("PUT", "/b/k", {"x-amz-copy-source": "b/j"}, "s3:CopyObject", id="copy"),
        pytest.param("GET", "/b?list-type=2&prefix=x", {}, "s3:ListObjects", id="list"),
        pytest.param("HEAD", "/b/k", {}, "s3:HeadObject", id="head"),
    ],
)
def test_operations_are_named_like_the_api(method: str, path: str, headers: dict, operation: str) -> None:
    assert operation_of(method, path, headers) == operation
