"""Transient vs deterministic failures, on the exceptions botocore, boto3, requests and the readers raise."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib

import pytest
import requests
from boto3.exceptions import RetriesExceededError, S3UploadFailedError
from botocore import exceptions as bce

from airlake.errors import is_deterministic, is_transient


def _client_error(code: str, status: int, operation: str = "GetObject") -> bce.ClientError:
    return bce.ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


def _raised(
    error: BaseException, *, inside: BaseException | None = None, cause: bool = False
) -> BaseException:
    """``error`` as Python leaves it after raising it while handling ``inside`` (or ``from`` it)."""
    try:
        try:
            if inside is not None:
                raise inside
        except BaseException as handled:
            if cause:
                raise error from handled
            raise error  # noqa: B904 - the implicit context is what boto3's S3UploadFailedError keeps
        raise error
    except BaseException as caught:
        return caught


def _http_error(status: int) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    return requests.HTTPError(f"HTTP {status}", response=response)


def _isal_error() -> BaseException:
    """What curate's inflate (ISA-L, :func:`airlake.curate.rawfile.gunzip`) raises for corrupt deflate data."""
    from airlake.curate.rawfile import gunzip

    data = bytearray(gzip.compress(b"".join(b"%d,row\n" % i for i in range(20_000)), mtime=0))
    data[400] ^= 0xFF
    try:
        gunzip(io.BytesIO(bytes(data))).read()
    except Exception as error:  # the error itself is the test's input
        assert type(error).__name__ == "IsalError", error  # not a zlib.error: classified by name
        return error
    raise AssertionError("a corrupt deflate stream must not inflate")


def _gzip_error() -> BaseException:
    try:
        gzip.decompress(gzip.compress(b"a,b\n" * 1000, mtime=0)[:-30])
    except EOFError as error:
        return error
    raise AssertionError("a truncated gzip stream must not decompress")


def _csv_error() -> BaseException:
    try:
        list(csv.reader(io.StringIO('a,"' + "x" * 200_000 + '"\n')))
    except csv.Error as error:
        return error
    raise AssertionError("a 200 kB field must be over csv's field limit")


TRANSIENT = [
    pytest.param(_client_error("SlowDown", 503, "PutObject"), id="s3-slowdown"),
    pytest.param(_client_error("ThrottlingException", 400, "GetPartitions"), id="glue-throttling"),
    pytest.param(_client_error("ProvisionedThroughputExceededException", 400, "GetRecords"), id="kinesis"),
    pytest.param(_client_error("InternalError", 500), id="s3-internal-error"),
    pytest.param(_client_error("ServiceUnavailable", 503), id="service-unavailable"),
    pytest.param(_client_error("503", 503, "HeadObject"), id="head-503-without-body"),
    pytest.param(_client_error("RequestTimeout", 400), id="request-timeout"),
    pytest.param(bce.EndpointConnectionError(endpoint_url="https://s3.amazonaws.com"), id="endpoint-down"),
    pytest.param(bce.ConnectTimeoutError(endpoint_url="https://s3.amazonaws.com"), id="connect-timeout"),
    pytest.param(bce.ReadTimeoutError(endpoint_url="https://s3.amazonaws.com"), id="read-timeout"),
    pytest.param(bce.ConnectionClosedError(endpoint_url="https://s3.amazonaws.com"), id="connection-closed"),
    pytest.param(bce.ResponseStreamingError(error="reset"), id="streaming-error"),
    pytest.param(bce.CredentialRetrievalError(provider="sts", error_msg="timeout"), id="sts-hiccup"),
    pytest.param(
        _raised(
            S3UploadFailedError("Failed to upload a to b/c: SlowDown"), inside=_client_error("SlowDown", 503)
        ),
        id="boto3-upload-failed-on-slowdown",
    ),
    pytest.param(RetriesExceededError(bce.ReadTimeoutError(endpoint_url="x")), id="boto3-retries-exceeded"),
    pytest.param(
        _raised(
            RuntimeError("s3://b/k: cannot download it"), inside=_client_error("SlowDown", 503), cause=True
        ),
        id="wrapper-naming-the-file",
    ),
    pytest.param(requests.ConnectionError("refused"), id="requests-connection"),
    pytest.param(requests.Timeout("slow"), id="requests-timeout"),
    pytest.param(_http_error(503), id="http-503"),
    pytest.param(_http_error(429), id="http-429"),
    pytest.param(ConnectionResetError(104, "reset by peer"), id="socket-reset"),
    pytest.param(TimeoutError("timed out"), id="socket-timeout"),
    pytest.param(RuntimeError("something unforeseen"), id="unknown-is-left-to-airflow"),
]

DETERMINISTIC = [
    pytest.param(_client_error("AccessDenied", 403), id="access-denied"),
    pytest.param(_client_error("NoSuchBucket", 404, "ListObjectsV2"), id="no-such-bucket"),
    pytest.param(_client_error("InvalidObjectState", 403), id="glacier-object"),
    pytest.param(_client_error("KMS.NotFoundException", 400, "PutObject"), id="kms-key-missing"),
    pytest.param(bce.NoCredentialsError(), id="no-credentials"),
    pytest.param(bce.ParamValidationError(report="Invalid bucket name"), id="param-validation"),
    pytest.param(
        _raised(
            S3UploadFailedError("Failed to upload: AccessDenied"), inside=_client_error("AccessDenied", 403)
        ),
        id="boto3-upload-failed-on-access-denied",
    ),
    pytest.param(
        _raised(
            RuntimeError("s3://b/k: cannot download it"),
            inside=_client_error("AccessDenied", 403),
            cause=True,
        ),
        id="wrapper-of-access-denied",
    ),
    pytest.param(_gzip_error(), id="truncated-gzip"),
    pytest.param(gzip.BadGzipFile("Not a gzipped file"), id="bad-gzip"),
    pytest.param(zlib.error("invalid stored block lengths"), id="zlib"),
    pytest.param(_isal_error(), id="isal-inflate"),
    pytest.param(_csv_error(), id="csv-field-limit"),
    pytest.param(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), id="utf8"),
    pytest.param(json.JSONDecodeError("Expecting value", "{", 1), id="json"),
    pytest.param(KeyError("Body"), id="payload-without-field"),
    pytest.param(_http_error(404), id="http-404"),
    pytest.param(type("DataError", (Exception,), {})("bad date"), id="dbapi-data-error"),
]


@pytest.mark.parametrize("error", TRANSIENT)
def test_transient_errors_are_retried(error: BaseException) -> None:
    assert is_transient(error) and not is_deterministic(error)


@pytest.mark.parametrize("error", DETERMINISTIC)
def test_deterministic_errors_fail_at_once(error: BaseException) -> None:
    assert is_deterministic(error) and not is_transient(error)


def test_pyarrow_not_parquet_is_deterministic(tmp_path) -> None:
    import pyarrow.parquet as pq

    path = tmp_path / "x.parquet"
    path.write_bytes(b"id,name\n1,a\n")
    with pytest.raises(Exception) as caught:
        pq.ParquetFile(path)
    assert is_deterministic(caught.value)


def test_an_error_may_say_for_itself() -> None:
    class Flaky(ValueError):
        transient = True

    assert is_transient(Flaky("a ValueError that says it is transient"))
