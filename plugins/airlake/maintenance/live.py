"""What the catalog says is live: the location each Glue partition of a dataset's table points at."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from airlake.catalog import CatalogError, live_location_lookup


def live_locations(glue: Any, database: str, table: str) -> dict[str, str]:
    """
    ``{dt: location}`` of every partition of the table (all pages); ``{}`` when the database or the
    table does not exist (nothing was ever published, so nothing is live).

    .. seealso::
        - :external+boto3:py:meth:`Glue.Client.get_partitions`

    :param glue: a boto3 Glue client.
    :param database: the Glue database.
    :param table: the table (the dataset), partitioned by one key (``dt``).
    """
    found: dict[str, str] = {}
    try:
        for page in glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table):
            for partition in page.get("Partitions", []):
                location = (partition.get("StorageDescriptor") or {}).get("Location")
                if location:
                    found[str(partition["Values"][0])] = location
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "EntityNotFoundException":
            return {}
        raise CatalogError(f"get_partitions {database}.{table} failed: {exc}") from exc
    return dict(sorted(found.items()))


def current_location(glue: Any, database: str, table: str, dt: str) -> str | None:
    """The partition's location right now (no cache): checked again just before deleting or publishing."""
    return live_location_lookup(glue, database, table)(dt)
