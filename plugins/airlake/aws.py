"""How the lake builds AWS clients: one retry policy and timeouts for every service, and a lost reply of a
multipart completion recognised as the success it was.

Every client the lake uses (S3, Glue, Athena, Kinesis, SQS, ...) comes from an Amazon provider hook that
went through :func:`configure` (or :func:`lake_client`), so transient errors (500, 503, throttling,
timeouts, dropped connections) are retried at the request level, with AWS's ``standard`` retry mode
(exponential backoff with jitter and a retry quota), before a task retry is spent. botocore's own default
is 3 attempts: three throttled ``GetPartition`` calls in a row would fail a curate run after its parse.

The connection overrides it: ``config_kwargs`` in the extra of the AWS connection (as the provider's
``AwsBaseHook`` reads it), or an operator's ``botocore_config``, win option by option (``retries`` key by
key), e.g. ``{"config_kwargs": {"retries": {"mode": "adaptive", "total_max_attempts": 12}, "read_timeout": 300}}``.
"""

from __future__ import annotations

import binascii
import hashlib
import logging
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.config import Config
from botocore.exceptions import ClientError

from airlake.lake import s3_uri

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsGenericHook

log = logging.getLogger(__name__)

CLIENT_CONFIG: dict[str, Any] = {
    "retries": {"mode": "standard", "total_max_attempts": 8},
    "connect_timeout": 10,
    "read_timeout": 60,
    "tcp_keepalive": True,
}
"""The lake's botocore settings: ``standard`` mode (AWS's recommended default) with 8 attempts in all (the
first and 7 retries; botocore's ``max_attempts`` key counts retries only), which
outlasts a burst of throttling (backoff up to 20 s per attempt) without hiding a real outage; a 10 s
connect timeout (botocore: 60 s) so a dead endpoint is retried soon; a 60 s read timeout."""

_CONFIGURED = "_airlake_configured"
_COMPLETION_CHECK = "_airlake_completion_check"

H = TypeVar("H", bound="AwsGenericHook[Any]")


class MultipartConflictError(RuntimeError):
    """A multipart upload could not be completed and the object at its key is not the upload's."""


def client_config(given: Config | None = None) -> Config:
    """
    The lake's :data:`CLIENT_CONFIG` under ``given``: every option set in ``given`` wins, ``retries`` key
    by key (``{"retries": {"max_attempts": 3}}`` keeps the ``standard`` mode).

    :param given: the hook's botocore config (an operator's ``botocore_config``, else the connection's
        ``config_kwargs``), or None.
    """
    merged = Config(**CLIENT_CONFIG)
    if given is None:
        return merged
    merged = merged.merge(given)
    if given.retries:
        retries = dict(CLIENT_CONFIG["retries"])
        if {"max_attempts", "total_max_attempts"} & given.retries.keys():
            retries.pop("total_max_attempts")  # either key of the connection counts, not ours
        merged = merged.merge(Config(retries={**retries, **given.retries}))
    return merged


def configure(hook: H) -> H:
    """
    Give an Amazon provider hook the lake's client settings (:func:`client_config` under the connection's
    own), before it builds its client; a client it built earlier is dropped so the next one has them.

    :param hook: any ``AwsGenericHook`` (``S3Hook``, ``GlueCatalogHook``, ``AthenaHook``, ...).
    :return: the same hook.
    """
    if getattr(hook, _CONFIGURED, False):
        return hook
    wrapper = hook.conn_config
    wrapper.botocore_config = client_config(wrapper.botocore_config)
    hook.__dict__.pop("conn", None)  # a client cached before this point lacks the settings
    setattr(hook, _CONFIGURED, True)
    return hook


def lake_client(hook: AwsGenericHook[Any]) -> Any:
    """
    The hook's boto3 client with the lake's settings; an S3 client also recognises a completed multipart
    upload whose reply was lost (:func:`install_completion_check`).

    :param hook: any ``AwsGenericHook``.
    """
    client = configure(hook).get_conn()
    if client.meta.service_model.service_name == "s3":
        install_completion_check(client)
    return client


def multipart_etag(part_etags: list[str]) -> str:
    """The ETag S3 gives the object a multipart upload completes: the MD5 of the parts' binary MD5s, ``-N``."""
    digests = b"".join(binascii.unhexlify(etag.strip('"')) for etag in part_etags)
    return f'"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{len(part_etags)}"'


def install_completion_check(client: Any) -> None:
    """
    Make ``CompleteMultipartUpload`` answer ``NoSuchUpload`` with success when the object at the key is
    exactly this upload's (its ETag is the one the listed parts give): that is the resend of a completion
    whose first reply was lost after S3 applied it. Another object there raises
    :class:`MultipartConflictError` naming both ETags. Covers every caller of the client (``upload_file``'s
    transfer manager, multipart copies). Installed once per client.

    .. seealso::
        - :external+boto3:py:meth:`S3.Client.complete_multipart_upload`
    """
    if getattr(client, _COMPLETION_CHECK, False):
        return
    events = client.meta.events
    events.register("before-parameter-build.s3.CompleteMultipartUpload", _remember_parts)
    events.register("after-call.s3.CompleteMultipartUpload", _check_lost_completion(client))
    setattr(client, _COMPLETION_CHECK, True)


def _remember_parts(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    parts = ((params.get("MultipartUpload") or {}).get("Parts")) or []
    if parts and all(part.get("ETag") for part in parts):
        context["airlake_multipart"] = {
            "bucket": params["Bucket"],
            "key": params["Key"],
            "upload_id": params.get("UploadId"),
            "etag": multipart_etag([part["ETag"] for part in parts]),
        }


def _check_lost_completion(client: Any) -> Any:
    def check(http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        wanted = context.get("airlake_multipart")
        if not wanted or (parsed.get("Error") or {}).get("Code") != "NoSuchUpload":
            return
        uri = s3_uri(wanted["bucket"], wanted["key"])
        try:
            found = client.head_object(Bucket=wanted["bucket"], Key=wanted["key"])
        except ClientError as exc:
            raise MultipartConflictError(
                f"completing multipart upload {wanted['upload_id']} of {uri}: NoSuchUpload, and no object "
                f"is there ({exc}): the upload was aborted or expired, wanted ETag {wanted['etag']}"
            ) from exc
        if found.get("ETag") != wanted["etag"]:
            raise MultipartConflictError(
                f"completing multipart upload {wanted['upload_id']} of {uri}: NoSuchUpload, and the object "
                f"there is another one: wanted ETag {wanted['etag']}, found {found.get('ETag')} "
                f"(last modified {found.get('LastModified')})"
            )
        log.info(
            "Multipart upload %s of %s was already complete (a lost reply): ETag %s",
            wanted["upload_id"],
            uri,
            wanted["etag"],
        )
        metadata = parsed.get("ResponseMetadata") or {}
        parsed.clear()
        parsed.update(
            {
                "Bucket": wanted["bucket"],
                "Key": wanted["key"],
                "ETag": wanted["etag"],
                "ResponseMetadata": {**metadata, "HTTPStatusCode": 200},
            }
        )
        if found.get("VersionId"):
            parsed["VersionId"] = found["VersionId"]
        http_response.status_code = 200  # botocore raises on the status after this event

    return check
