"""An optional Glue crawler over a dataset's curated prefix (explicit registration is the default)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airlake.catalog.tables import curated_location

if TYPE_CHECKING:
    from airlake.contracts import Contract


def crawler_config(contract: Contract, bucket: str, database: str, *, name: str, role: str) -> dict[str, Any]:
    """
    ``create_crawler`` / ``update_crawler`` arguments for a crawler over a dataset's curated prefix.

    The table still comes from the contract (:func:`ensure_table`): the crawler only logs schema
    differences (``SchemaChangePolicy`` LOG) and adds partitions that inherit the table's schema. It
    registers every folder it finds, including superseded ``v=`` versions, until maintenance
    removes them: explicit registration (:func:`publish_partitions`) is the default for a reason.

    .. seealso::
        - :external+boto3:py:meth:`Glue.Client.create_crawler`

    :param contract: the dataset contract.
    :param bucket: the lake bucket.
    :param database: the Glue database the crawler writes to.
    :param name: the crawler's name.
    :param role: IAM role the crawler runs as (read access to the prefix, Glue catalog access).
    """
    configuration = {
        "Version": 1.0,
        "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
        # s3://bucket (1) / curated (2) / <dataset> (3): the table is the dataset's folder.
        "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas", "TableLevelConfiguration": 3},
    }
    return {
        "Name": name,
        "Role": role,
        "DatabaseName": database,
        "Description": f"Airlake: partitions of {database}.{contract.name} from its curated prefix",
        "Targets": {
            "S3Targets": [{"Path": curated_location(bucket, contract.name), "Exclusions": ["**/_*", "**/.*"]}]
        },
        "SchemaChangePolicy": {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"},
        "Configuration": json.dumps(configuration, sort_keys=True),
    }
