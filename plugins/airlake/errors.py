"""Which failures are worth a retry: one rule every stage uses to fail at once or let Airflow retry.

A throttled request, a 5xx, a timeout or a dropped connection may well succeed a minute later; bad
bytes, a refused permission or a bug give the same error on every try, and retrying them only delays
the message a user needs by the length of the retry schedule. Exceptions are classified by their
whole chain (``raise ... from`` and the implicit context), so a wrapper that names the file keeps the
class of the error it wraps. An exception may also say for itself with a boolean ``transient``
attribute. What is not recognised either way is treated as transient, as Airflow would.
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import Iterator

# botocore's standard retry mode retries these (botocore.retries.standard): by the time one reaches us
# botocore has already given up on them, but a task retry minutes later usually succeeds.
AWS_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
AWS_TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "InternalError", "ServiceUnavailable"}
)
TRANSIENT_HTTP_STATUSES = frozenset({429, 500, 502, 503, 504})

# DB-API exception names (psycopg, redshift_connector, ...): a lost connection may come back, bad SQL
# or bad data never does.
_DBAPI_TRANSIENT = frozenset({"OperationalError", "InterfaceError"})
_DBAPI_DETERMINISTIC = frozenset({"DataError", "ProgrammingError", "IntegrityError", "NotSupportedError"})

_DETERMINISTIC_TYPES: tuple[type[BaseException], ...] = (
    ValueError,  # includes UnicodeDecodeError, json.JSONDecodeError, pyarrow's ArrowInvalid
    EOFError,  # a truncated gzip or zlib stream
    zlib.error,
    csv.Error,
    LookupError,  # KeyError, IndexError: a payload without the field the code expects
    TypeError,
    AttributeError,
    NotImplementedError,
    PermissionError,
    FileNotFoundError,
)


def is_transient(error: BaseException) -> bool:
    """True when a retry of the same work may succeed (throttling, 5xx, timeouts, lost connections)."""
    verdicts = [_verdict(item) for item in _chain(error)]
    if True in verdicts:
        return True
    return False not in verdicts


def is_deterministic(error: BaseException) -> bool:
    """True when the same work fails the same way again: fail at once, with the error's message."""
    return not is_transient(error)


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)


def _verdict(error: BaseException) -> bool | None:
    """True: transient; False: deterministic; None: this exception alone does not say."""
    own = getattr(error, "transient", None)
    if isinstance(own, bool):
        return own
    botocore = _botocore_verdict(error)
    if botocore is not None:
        return botocore
    requests_verdict = _requests_verdict(error)
    if requests_verdict is not None:
        return requests_verdict
    names = {cls.__name__ for cls in type(error).__mro__}
    if names & _DBAPI_TRANSIENT:
        return True
    if names & _DBAPI_DETERMINISTIC:
        return False
    if isinstance(error, ConnectionError | TimeoutError):  # builtins (socket errors)
        return True
    if "RetriesExceededError" in names:  # boto3 / s3transfer gave up after their own retries
        return True
    if isinstance(error, _DETERMINISTIC_TYPES):
        return False
    if names & {"BadGzipFile", "IsalError"}:  # about the bytes: an OSError subclass; ISA-L's zlib.error
        return False
    if names & {"AirflowFailException", "AirflowNotFoundException"}:  # e.g. a connection that is not defined
        return False
    return None


def _botocore_verdict(error: BaseException) -> bool | None:
    try:
        from botocore import exceptions as bce
    except ImportError:  # pragma: no cover - botocore ships with the Amazon provider
        return None
    if isinstance(error, bce.ClientError):
        details = error.response.get("Error", {}) or {}
        code = str(details.get("Code", ""))
        status = (error.response.get("ResponseMetadata", {}) or {}).get("HTTPStatusCode")
        if code in AWS_THROTTLING_CODES or code in AWS_TRANSIENT_CODES:
            return True
        if code.isdigit() and int(code) in TRANSIENT_HTTP_STATUSES:  # S3 HEAD errors carry the status
            return True
        return status in TRANSIENT_HTTP_STATUSES
    transient = (
        bce.ConnectionError,  # EndpointConnectionError, ConnectTimeoutError, ProxyConnectionError, ...
        bce.HTTPClientError,  # ReadTimeoutError, ConnectionClosedError, ResponseStreamingError
        bce.IncompleteReadError,
        bce.CredentialRetrievalError,  # an STS or instance-metadata hiccup
        bce.MetadataRetrievalError,
    )
    if isinstance(error, transient):
        return True
    if isinstance(error, bce.BotoCoreError):  # no credentials, bad parameters, unknown region, ...
        return False
    return None


def _requests_verdict(error: BaseException) -> bool | None:
    try:
        import requests
    except ImportError:  # pragma: no cover
        return None
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return error.response.status_code in TRANSIENT_HTTP_STATUSES
    if isinstance(
        error, requests.ConnectionError | requests.Timeout | requests.exceptions.ChunkedEncodingError
    ):
        return True
    return None
