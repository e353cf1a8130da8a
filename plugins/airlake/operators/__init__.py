"""One thin operator per pipeline stage; the logic lives in plain, Airflow-free modules."""

from __future__ import annotations

from typing import Any


def glue_client_of(operator: Any) -> Any:
    """A Glue client on the same connection, region and botocore settings as an ``AwsBaseOperator``'s
    own hook, with the lake's retry settings: the S3-based stages also read the catalog."""
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

    from airlake.aws import lake_client

    return lake_client(GlueCatalogHook(**operator._hook_parameters))
