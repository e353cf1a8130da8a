"""LakeOperator: the plumbing every stage operator shares (lake bucket, Glue database, KMS, store, Glue, lineage,
and the constructor of a stage's own arguments: :func:`argument`), and the two kinds of stage built on it: one
dataset (:class:`DatasetOperator`) or a sweep over several (:class:`SweepOperator`)."""

from __future__ import annotations

import inspect
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


_REQUIRED: Any = object()


class _Argument:
    """The declaration :func:`argument` returns: the default of an operator's own argument."""

    __slots__ = ("default",)

    def __init__(self, default: Any) -> None:
        self.default = default


def argument(default: Any = _REQUIRED) -> Any:
    """
    One of a stage operator's own arguments, declared as a typed class attribute
    (``use_crawler: bool = argument(False)``; ``view: str = argument()`` when it is required):
    :class:`LakeOperator` gives each subclass an ``__init__`` taking its declared arguments as
    keyword-only parameters (typed, with these defaults; ``default_args`` apply as to any operator) and
    keeping each as the attribute of the same name, then passing the rest on to its base. A subclass
    with its own ``__init__`` declares no arguments this way.
    """
    return _Argument(default)


def _keyword_init(cls: type, declared: dict[str, _Argument]) -> Any:
    """The ``__init__`` of a subclass declaring ``declared``: keyword-only, with a real signature (what
    Airflow's defaults and parse checks read)."""
    annotations = inspect.get_annotations(cls)
    parameters = [
        inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        *(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=inspect.Parameter.empty if arg.default is _REQUIRED else arg.default,
                annotation=annotations.get(name, inspect.Parameter.empty),
            )
            for name, arg in declared.items()
        ),
        inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD, annotation="Any"),
    ]

    def __init__(self: Any, **kwargs: Any) -> None:
        missing = [name for name, arg in declared.items() if arg.default is _REQUIRED and name not in kwargs]
        if missing:
            raise TypeError(f"{cls.__name__} missing keyword argument(s): {', '.join(missing)}")
        own = {name: kwargs.pop(name, arg.default) for name, arg in declared.items()}
        super(cls, self).__init__(**kwargs)
        for name, value in own.items():
            setattr(self, name, value)

    __init__.__signature__ = inspect.Signature(parameters, return_annotation="None")  # type: ignore[attr-defined]
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__module__ = cls.__module__
    return __init__


class LakeOperator(AwsBaseOperator[Any]):
    """
    Base of the stage operators: one place for the lake's arguments and clients, so a stage only
    configures and calls its plain function. ``bucket`` and ``database`` normally come from the DAG's
    ``default_args`` (:func:`airlake.pipeline.default_args`); a task may still pass its own. A subclass
    declares only its own arguments (:func:`argument`) and adds the templated ones' names to
    ``template_fields``.

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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = {name: value for name, value in vars(cls).items() if isinstance(value, _Argument)}
        if not declared:
            return
        if "__init__" in vars(cls):
            raise TypeError(
                f"{cls.__name__}: declare its arguments with argument() or write __init__, not both"
            )
        for name, arg in declared.items():
            if arg.default is _REQUIRED:
                delattr(cls, name)
            else:
                setattr(cls, name, arg.default)
        cls.__init__ = _keyword_init(cls, declared)  # type: ignore[method-assign]

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
    dataset: str = argument()


class SweepOperator(LakeOperator):
    """
    A maintenance stage over several datasets (cleanup, compaction, tiering), reviewable with a dry run.

    :param datasets: contract names (a list, or comma/space separated text); default every contract.
    :param dry_run: log and return what would change; write nothing (a rendered ``"False"`` is false).
    """

    template_fields: Sequence[str] = (*LakeOperator.template_fields, "datasets", "dry_run")
    datasets: Sequence[str] | str | None = argument(None)
    dry_run: bool = argument(False)

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
