"""LakeOperator: the plumbing every stage operator shares (lake bucket, Glue database, KMS, store, Glue, lineage)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airlake.lineage import Lineage
    from airlake.store import LakeStore


class LakeOperator(AwsBaseOperator[Any]):
    """
    Base of the stage operators: one place for the lake's arguments and clients, so a stage only
    configures and calls its plain function. ``bucket`` and ``database`` normally come from the DAG's
    ``default_args`` (:func:`airlake.pipeline.default_args`); a task may still pass its own.

    :param bucket: the lake bucket.
    :param database: the Glue database (which version of a partition is live; the stage's tables).
    :param kms_key_id: SSE-KMS key for every S3 write; SSE-S3 (AES256) when not given.
    """

    aws_hook_class: Any = S3Hook
    _lineage: Lineage | None = None

    def __init__(
        self, *, bucket: str, database: str = "airlake", kms_key_id: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket
        self.database = database
        self.kms_key_id = kms_key_id

    def lake_store(self) -> LakeStore:
        """The lake bucket through an S3 hook on the operator's connection, writing with its KMS key."""
        from airlake.store import LakeStore

        hook = self.hook if isinstance(self.hook, S3Hook) else S3Hook(**self._hook_parameters)
        return LakeStore(hook, self.bucket, kms_key_id=self.kms_key_id)

    def glue_client(self) -> Any:
        """A Glue client on the operator's connection with the lake's retry settings."""
        from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

        from airlake.aws import lake_client

        if isinstance(self.hook, GlueCatalogHook):
            return lake_client(self.hook)
        return glue_client_of(self)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """What the run read and wrote, as recorded by ``execute`` (see :mod:`airlake.lineage`)."""
        from airlake.lineage import operator_lineage

        return operator_lineage(self._lineage)


def glue_client_of(operator: Any) -> Any:
    """A Glue client on the same connection, region and botocore settings as an ``AwsBaseOperator``'s
    own hook, with the lake's retry settings: the S3-based stages also read the catalog."""
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

    from airlake.aws import lake_client

    return lake_client(GlueCatalogHook(**operator._hook_parameters))
