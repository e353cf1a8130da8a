"""Superseded curated versions: tagged once past the grace period, then expired by a lifecycle rule.

S3 lifecycle cannot tell a live version prefix from a superseded one (both are plain prefixes), so
the tiering operator decides with :func:`airlake.curate.versions_to_clean` (the catalog says which
version is live; the grace period keeps versions that running queries may still read) and tags the
objects of the versions it may delete; the rule ``airlake:curated-superseded:expire`` deletes tagged
objects. Expiry by lifecycle costs no DELETE requests and happens even when a later run fails.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airlake.curate.versions import versions_to_clean
from airlake.lake import DEFAULT_PARTITION_COLUMN
from airlake.tiering.policy import SUPERSEDED_TAG

if TYPE_CHECKING:
    from airlake.store import LakeStore

log = logging.getLogger(__name__)

MAX_TAGS = 10
"""Most tags one S3 object carries."""


def plan_superseded(
    store: LakeStore,
    dataset: str,
    live: Mapping[str, str | None],
    *,
    grace: timedelta,
    now: datetime,
    column: str = DEFAULT_PARTITION_COLUMN,
) -> list[str]:
    """
    Keys of the objects of superseded (or abandoned) versions that may be deleted.

    :param store: the lake bucket.
    :param dataset: the dataset.
    :param live: ``{dt: live location}`` from the catalog; partitions not in it are left alone.
    :param grace: how long a superseded version stays readable after the version that replaced it.
    :param now: the run's time (its data interval end), not the clock.
    :param column: the dataset's partition column (the ``<column>=`` folder of its keys).
    """
    prefixes = versions_to_clean(store, dataset, live, grace, now=now, column=column)
    return [obj.key for prefix in prefixes for obj in store.list(prefix)]


def tag_objects(
    client: Any, bucket: str, keys: Iterable[str], tag: tuple[str, str] = SUPERSEDED_TAG
) -> dict[str, int]:
    """
    Add ``tag`` to each object, keeping its other tags. Objects already tagged are not written again.

    .. seealso::
        - :external+boto3:py:meth:`S3.Client.get_object_tagging`
        - :external+boto3:py:meth:`S3.Client.put_object_tagging`

    :return: ``{"tagged": n, "already": n, "full": n}`` (``full``: ten other tags, left as they are).
    """
    counts = {"tagged": 0, "already": 0, "full": 0}
    name, value = tag
    for key in keys:
        tags = client.get_object_tagging(Bucket=bucket, Key=key).get("TagSet") or []
        if any(t["Key"] == name and t["Value"] == value for t in tags):
            counts["already"] += 1
            continue
        others = [t for t in tags if t["Key"] != name]
        if len(others) >= MAX_TAGS:
            log.warning("s3://%s/%s has %d tags already: not tagged %s", bucket, key, len(others), name)
            counts["full"] += 1
            continue
        client.put_object_tagging(
            Bucket=bucket, Key=key, Tagging={"TagSet": [*others, {"Key": name, "Value": value}]}
        )
        counts["tagged"] += 1
    return counts
