"""A fault-injecting HTTP proxy in front of the session's moto server: the storage errors AWS really answers.

Loopback only (it listens on and forwards to 127.0.0.1), bounded (``max_faults``), seeded (one
``random.Random`` drawn under a lock: the same seed and the same request order give the same faults).
Each request is either forwarded as it is, or answered with an injected fault:

- ``error``: an error reply without forwarding (500 InternalError, 503 SlowDown / ServiceUnavailable,
  throttling: S3's 503 SlowDown, 400 ThrottlingException for the JSON APIs);
- ``lost``: forwarded, moto applies it, and the reply is replaced by such an error: the client cannot
  tell it from ``error`` and resends a request that already took effect;
- ``drop``: forwarded, moto applies it, and the connection is closed without any reply (a reset or a
  timeout after the request reached AWS): a lost reply at the TCP level.

Random faults hit a share ``rate`` of all requests; :meth:`FaultProxy.script` queues faults for one
operation (``"glue:BatchCreatePartition"``, ``"s3:CompleteMultipartUpload"``). ``stats`` counts the
requests, the injected faults (by mode, status and operation) and the retries clients sent (requests whose
``amz-sdk-request`` header says ``attempt`` > 1), so a test can show every fault was absorbed by a
request-level retry.

One behaviour of S3 that moto lacks is emulated: a multipart upload that was completed or aborted is gone,
and a later ``CompleteMultipartUpload`` (the resend after a lost reply) or ``UploadPart`` of it gets
``404 NoSuchUpload`` (moto completes it a second time, or answers 500 after an abort).
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

LOOPBACK = {"127.0.0.1", "localhost", "::1"}

_S3_ERRORS = {
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
}
_JSON_ERRORS = {
    500: ("InternalServiceException", "Internal service error"),
    503: ("ServiceUnavailableException", "Service is unavailable"),
    400: ("ThrottlingException", "Rate exceeded"),
}
_JSON_TARGETS = {
    "AWSGlue": "glue",
    "AmazonAthena": "athena",
    "AmazonSQS": "sqs",
    "Kinesis_20131202": "kinesis",
}
_UPLOAD_ENDS = {"s3:CompleteMultipartUpload", "s3:AbortMultipartUpload"}
_UPLOAD_CALLS = {"s3:CompleteMultipartUpload", "s3:UploadPart", "s3:UploadPartCopy", "s3:ListParts"}
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
}


@dataclass
class FaultStats:
    """What the proxy saw and did."""

    requests: int = 0
    retries: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    """``<mode> <status>`` -> count (``error 503``, ``lost 500``, ...)."""
    by_operation: Counter[str] = field(default_factory=Counter)
    """``<mode> <operation>`` -> count."""
    operations: Counter[str] = field(default_factory=Counter)
    max_attempts: set[int] = field(default_factory=set)
    """The ``max`` of every ``amz-sdk-request`` header: the clients' configured attempts."""

    @property
    def faults(self) -> int:
        return sum(self.injected.values())

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "faults": self.faults,
            "lost_replies": sum(n for kind, n in self.injected.items() if kind.startswith(("lost", "drop"))),
            "retries": self.retries,
            "injected": dict(sorted(self.injected.items())),
            "by_operation": dict(sorted(self.by_operation.items())),
            "max_attempts": sorted(self.max_attempts),
        }


def operation_of(method: str, path: str, headers: Any) -> str:
    """``service:Operation`` of a request, from the JSON target header or S3's method and query."""
    target = headers.get("X-Amz-Target")
    if target:
        prefix, _, name = target.partition(".")
        return f"{_JSON_TARGETS.get(prefix, prefix.lower())}:{name}"
    parts = urlsplit(path)
    query = parse_qs(parts.query, keep_blank_values=True)
    segments = [s for s in parts.path.split("/") if s]
    on_object = len(segments) > 1
    copy = "x-amz-copy-source" in {k.lower() for k in headers}
    if "uploads" in query and method == "POST":
        name = "CreateMultipartUpload"
    elif "uploadId" in query:
        name = {
            "POST": "CompleteMultipartUpload",
            "PUT": "UploadPartCopy" if copy else "UploadPart",
            "DELETE": "AbortMultipartUpload",
            "GET": "ListParts",
        }.get(method, method)
    elif "delete" in query and method == "POST":
        name = "DeleteObjects"
    elif "lifecycle" in query:
        name = {"GET": "GetBucketLifecycleConfiguration", "PUT": "PutBucketLifecycleConfiguration"}.get(
            method, "DeleteBucketLifecycle"
        )
    elif "tagging" in query:
        name = f"{method.title()}ObjectTagging"
    elif "restore" in query:
        name = "RestoreObject"
    elif on_object:
        name = {"PUT": "CopyObject" if copy else "PutObject"}.get(method, f"{method.title()}Object")
    elif segments:
        name = {"GET": "ListObjects", "PUT": "CreateBucket", "HEAD": "HeadBucket"}.get(
            method, f"{method}Bucket"
        )
    else:
        name = "ListBuckets"
    return f"s3:{name}"


class FaultProxy:
    """
    A threaded HTTP proxy on 127.0.0.1 in front of ``upstream`` that injects faults; a context manager.

    :param upstream: ``http://127.0.0.1:<port>`` of the moto server (loopback only).
    :param seed: seed of the random faults.
    :param rate: share of requests answered with a random fault (0 to 1).
    :param lost_share: share of those faults that are lost replies (forwarded, then answered with an error).
    :param drop_share: share of the lost replies that are dropped connections instead of error replies.
    :param max_faults: most faults injected, random and scripted together; then everything passes.
    :param operations: when given, random faults hit only these operations.
    """

    def __init__(
        self,
        upstream: str,
        *,
        seed: int = 0,
        rate: float = 0.0,
        lost_share: float = 0.5,
        drop_share: float = 0.0,
        max_faults: int = 200,
        operations: set[str] | None = None,
    ) -> None:
        target = urlsplit(upstream)
        if target.hostname not in LOOPBACK or target.scheme != "http":
            raise ValueError(
                f"the fault proxy forwards to a loopback http:// endpoint only, not {upstream!r}"
            )
        if not 0 <= rate <= 1 or not 0 <= lost_share <= 1:
            raise ValueError(f"rate and lost_share are shares between 0 and 1, got {rate}, {lost_share}")
        self.upstream_host, self.upstream_port = target.hostname, target.port or 80
        self.rate, self.lost_share, self.drop_share, self.max_faults = (
            rate,
            lost_share,
            drop_share,
            max_faults,
        )
        self.operations = operations
        self.stats = FaultStats()
        self._random = random.Random(seed)  # noqa: S311 (seeded faults, not secrets)
        self._lock = threading.Lock()
        self._scripted: dict[str, list[tuple[str, int]]] = {}
        self.gone_uploads: set[str] = set()
        """Multipart uploads completed or aborted: S3 answers NoSuchUpload for them, moto does not."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def script(self, operation: str, mode: str = "lost", *, status: int = 500, times: int = 1) -> None:
        """Answer the next ``times`` requests of ``operation`` with a fault (``error``, ``lost`` or ``drop``)."""
        if mode not in {"error", "lost", "drop"}:
            raise ValueError(f"mode must be 'error', 'lost' or 'drop', got {mode!r}")
        with self._lock:
            self._scripted.setdefault(operation, []).extend([(mode, status)] * times)

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fault-proxy", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _decide(self, operation: str, headers: Any) -> tuple[str, int] | None:
        """None to forward, else (mode, status); counts the request."""
        with self._lock:
            self.stats.requests += 1
            self.stats.operations[operation] += 1
            sdk = dict(
                item.strip().split("=", 1)
                for item in (headers.get("amz-sdk-request") or "").split(";")
                if "=" in item
            )
            if int(sdk.get("attempt", 1)) > 1:
                self.stats.retries += 1
            if "max" in sdk:
                self.stats.max_attempts.add(int(sdk["max"]))
            if self.stats.faults >= self.max_faults:
                return None
            queued = self._scripted.get(operation)
            if queued:
                fault = queued.pop(0)
            elif self.rate and (self.operations is None or operation in self.operations):
                if self._random.random() >= self.rate:
                    return None
                mode = "lost" if self._random.random() < self.lost_share else "error"
                fault = (mode, self._random.choice([500, 503, 429]))
                if mode == "lost" and self.drop_share and self._random.random() < self.drop_share:
                    fault = ("drop", 0)
            else:
                return None
            mode, status = fault
            if mode == "drop":
                status = 0
            elif status == 429:  # throttling, as each protocol says it
                status = 503 if operation.startswith("s3:") else 400
            self.stats.injected[f"{mode} {status}"] += 1
            self.stats.by_operation[f"{mode} {operation}"] += 1
            return mode, status

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # headers and body go out in two writes: without this, Nagle and delayed ACKs add 40 ms each
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            upstream: http.client.HTTPConnection | None = None

            def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
                """Send the request to moto on this client connection's own upstream connection (kept alive)."""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                if body or self.command in {"PUT", "POST"}:
                    headers["Content-Length"] = str(len(body))
                for attempt in (1, 2):
                    if self.upstream is None:
                        self.upstream = http.client.HTTPConnection(
                            proxy.upstream_host, proxy.upstream_port, timeout=120
                        )
                    try:
                        self.upstream.request(self.command, self.path, body=body, headers=headers)
                        response = self.upstream.getresponse()
                        return response.status, response.getheaders(), response.read()
                    except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                        self.upstream.close()  # moto closed an idle connection: open another
                        self.upstream = None
                        if attempt == 2:
                            raise
                raise AssertionError("unreachable")

            def finish(self) -> None:
                super().finish()
                if self.upstream is not None:
                    self.upstream.close()

            def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                        self.send_header(key, value)
                if self.command == "HEAD":  # no body; the length of the object it describes
                    original = next((v for k, v in headers if k.lower() == "content-length"), "0")
                    self.send_header("Content-Length", original)
                else:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _fault(self, operation: str, status: int) -> None:
                if operation.startswith("s3:"):
                    code, message = _S3_ERRORS[500 if status == 500 else 503]
                    body = (
                        '<?xml version="1.0" encoding="UTF-8"?>\n'
                        f"<Error><Code>{code}</Code><Message>{message} (injected)</Message>"
                        "<RequestId>fault-proxy</RequestId></Error>"
                    ).encode()
                    headers = [("Content-Type", "application/xml")]
                else:
                    code, message = _JSON_ERRORS[status]
                    body = json.dumps({"__type": code, "message": f"{message} (injected)"}).encode()
                    headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)]
                if self.command == "HEAD":
                    headers.append(("Content-Length", "0"))
                self._reply(status, headers, body)

            def _no_such_upload(self, upload_id: str) -> None:
                body = (
                    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code><Message>The '
                    "specified upload does not exist. The upload ID may be invalid, or the upload may have "
                    f"been aborted or completed.</Message><UploadId>{upload_id}</UploadId></Error>"
                ).encode()
                self._reply(404, [("Content-Type", "application/xml")], body)

            def _handle(self) -> None:
                body = self._body()
                operation = operation_of(self.command, self.path, self.headers)
                fault = proxy._decide(operation, self.headers)
                if fault is not None and fault[0] == "error":
                    self._fault(operation, fault[1])
                    return
                upload_id = (parse_qs(urlsplit(self.path).query).get("uploadId") or [""])[0]
                if upload_id and upload_id in proxy.gone_uploads and operation in _UPLOAD_CALLS:
                    self._no_such_upload(upload_id)  # as S3 answers; moto completes twice, or fails with 500
                    return
                status, headers, data = self._forward(body)
                if upload_id and status < 300 and operation in _UPLOAD_ENDS:
                    with proxy._lock:
                        proxy.gone_uploads.add(upload_id)
                if fault is not None and fault[0] == "drop":  # applied, and the client hears nothing
                    self.close_connection = True
                    return
                if fault is not None:  # lost reply: moto applied the request, the client hears an error
                    self._fault(operation, fault[1])
                    return
                self._reply(status, headers, data)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        return Handler
