"""LakeOperator: the plumbing every stage operator shares (lake bucket, Glue database, KMS, store, Glue, lineage),
and the two kinds of stage built on it: one dataset (:class:`DatasetOperator`) or a sweep over several
(:class:`SweepOperator`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airlake.lineage import Lineage
    from airlake.store import LakeStore


class LakeOperator(AwsBaseOperator[Any]):
    """
    Base of the stage operators: one place for the lake's arguments and clients, so a stage only
    configures and calls its plain function. ``bucket`` and ``database`` normally come from the DAG's
    ``default_args`` (:func:`airlake.pipeline.default_args`); a task may still pass its own. A subclass
    declares only its own arguments and adds their names to ``template_fields``.

    :param bucket: the lake bucket.
    :param database: the Glue database (which version of a partition is live; the stage's tables).
    :param kms_key_id: SSE-KMS key for every S3 write; SSE-S3 (AES256) when not given.
    """

    aws_hook_class: Any = S3Hook
    template_fields: Sequence[str] = aws_template_fields("bucket", "database", "kms_key_id")
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


class DatasetOperator(LakeOperator):
    """
    A stage on one dataset: ingest, curate, quality, catalog, load, restore.

    :param dataset: contract name (a file ``include/contracts/<dataset>.yaml``).
    """

    template_fields: Sequence[str] = (*LakeOperator.template_fields, "dataset")

    def __init__(self, *, dataset: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset


class SweepOperator(LakeOperator):
    """
    A maintenance stage over several datasets (cleanup, compaction, tiering), reviewable with a dry run.

    :param datasets: contract names (a list, or comma/space separated text); default every contract.
    :param dry_run: log and return what would change; write nothing (a rendered ``"False"`` is false).
    """

    template_fields: Sequence[str] = (*LakeOperator.template_fields, "datasets", "dry_run")

    def __init__(
        self, *, datasets: Sequence[str] | str | None = None, dry_run: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.datasets = datasets
        self.dry_run = dry_run

    @property
    def is_dry_run(self) -> bool:
        """``dry_run`` as a flag: a rendered ``"{{ params.dry_run }}"`` is text."""
        from airlake.intervals import as_bool

        return as_bool(self.dry_run)


def split_names(names: Sequence[str] | str | None) -> list[str]:
    """Names given as a list or as comma/space separated text (what a template renders), once each, in order."""
    if isinstance(names, str):
        names = re.split(r"[\s,]+", names)
    return list(dict.fromkeys(str(name).strip() for name in names or () if str(name).strip()))


def dataset_names(datasets: Sequence[str] | str | None) -> list[str]:
    """The datasets to work on (see :func:`split_names`); default every contract; KeyError for an unknown one."""
    from airlake.contracts import get_contract, load_contracts

    names = split_names(datasets)
    if not names:
        return sorted(load_contracts())
    for name in names:
        get_contract(name)  # KeyError naming the known datasets
    return names


def glue_client_of(operator: Any) -> Any:
    """A Glue client on the same connection, region and botocore settings as an ``AwsBaseOperator``'s
    own hook, with the lake's retry settings: the S3-based stages also read the catalog."""
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

    from airlake.aws import lake_client

    return lake_client(GlueCatalogHook(**operator._hook_parameters))
