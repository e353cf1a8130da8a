"""LakeOperator: the plumbing every stage operator shares (lake bucket, Glue database, KMS, store, Glue, lineage,
and the constructor of a stage's own arguments: :func:`argument`), and the two kinds of stage built on it: one
dataset (:class:`DatasetOperator`) or a sweep over several (:class:`SweepOperator`)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

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


_PARAMETERS = "_lake_parameters"
"""Attribute of a generated ``__init__``: the keyword-only parameters its own class declares."""


class _Plan(NamedTuple):
    """What a generated ``__init__`` does for one MRO (:func:`_plan`)."""

    classes: tuple[type, ...]  # the classes whose arguments it keeps, its own first
    parameters: tuple[inspect.Parameter, ...]  # their arguments (the nearest class's declaration wins)
    base: type  # the class whose __init__ it calls with the rest


_plans: dict[tuple[type, type], _Plan] = {}


def _own_parameters(klass: type) -> tuple[inspect.Parameter, ...] | None:
    """The parameters ``klass`` declares if its own ``__init__`` is a generated one, else None."""
    init = vars(klass).get("__init__")
    return getattr(getattr(init, "__wrapped__", init), _PARAMETERS, None)


def _plan(instance_class: type, cls: type, own: tuple[inspect.Parameter, ...]) -> _Plan:
    """
    What the generated ``__init__`` of ``cls`` (declaring ``own``) does for an instance of
    ``instance_class``: keep its arguments and those of the classes right after it in
    ``instance_class``'s MRO whose ``__init__`` is generated too, then call the ``__init__`` of the first
    class after them that has one of its own (``AwsBaseOperator``'s, or a hand-written one) with the
    other keyword arguments.

    Why one ``__init__`` for the chain: Airflow wraps every class's ``__init__`` in ``apply_defaults``,
    and each wrapper merges the DAG's default_args and deep-copies the DAG's Params again for the same
    result (an operator four classes below LakeOperator paid it seven times, ~0.1 ms each with the dataset
    DAGs' Params); the classes whose ``__init__`` only keeps its arguments now share one wrapper.
    """
    key = (instance_class, cls)
    found = _plans.get(key)
    if found is not None:
        return found
    mro = instance_class.__mro__
    classes, parameters = [cls], {parameter.name: parameter for parameter in own}
    for klass in mro[mro.index(cls) + 1 :]:
        if "__init__" not in vars(klass):
            continue
        declared = _own_parameters(klass)
        if declared is None:
            found = _plans[key] = _Plan(tuple(classes), tuple(parameters.values()), klass)
            return found
        classes.append(klass)
        for parameter in declared:
            parameters.setdefault(parameter.name, parameter)
    raise TypeError(
        f"{cls.__name__}: no base class __init__ to call"
    )  # pragma: no cover - BaseOperator has one


def _keyword_init(cls: type, declared: dict[str, _Argument]) -> Any:
    """The ``__init__`` of a class declaring ``declared``: keyword-only, with a real signature (what
    Airflow's defaults and parse checks read) holding every argument it keeps (:func:`_plan`)."""
    annotations = inspect.get_annotations(cls)
    own = tuple(
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=inspect.Parameter.empty if arg.default is _REQUIRED else arg.default,
            annotation=annotations.get(name, inspect.Parameter.empty),
        )
        for name, arg in declared.items()
    )
    planned = _plan(cls, cls, own)

    def __init__(self: Any, **kwargs: Any) -> None:
        plan = _plan(type(self), cls, own)
        # another MRO (a subclass mixing in other bases) may put classes between this one and the base of
        # its own plan: then this class's own arguments only, and super() (each class in turn, as before)
        chained = plan.classes == planned.classes
        parameters = plan.parameters if chained else own
        missing = [p.name for p in parameters if p.default is p.empty and p.name not in kwargs]
        if missing:
            raise TypeError(f"{cls.__name__} missing keyword argument(s): {', '.join(missing)}")
        values = {p.name: kwargs.pop(p.name, p.default) for p in parameters}
        if chained:
            vars(plan.base)["__init__"](self, **kwargs)
        else:
            super(cls, self).__init__(**kwargs)
        for name, value in values.items():
            setattr(self, name, value)

    setattr(__init__, _PARAMETERS, own)
    __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            *planned.parameters,
            inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD, annotation="Any"),
        ],
        return_annotation="None",
    )
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__module__ = cls.__module__
    return __init__


def _declare_arguments(cls: type) -> bool:
    """Give ``cls`` the ``__init__`` of the arguments it declares (:func:`argument`); False if none."""
    declared = {name: value for name, value in vars(cls).items() if isinstance(value, _Argument)}
    if not declared:
        return False
    if "__init__" in vars(cls):
        raise TypeError(f"{cls.__name__}: declare its arguments with argument() or write __init__, not both")
    for name, arg in declared.items():
        if arg.default is _REQUIRED:
            delattr(cls, name)
        else:
            setattr(cls, name, arg.default)
    cls.__init__ = _keyword_init(cls, declared)  # type: ignore[misc]
    return True


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

    bucket: str = argument()
    database: str = argument("airlake")
    kms_key_id: str | None = argument(None)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _declare_arguments(cls)

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


# LakeOperator's own __init__ from its declared arguments (__init_subclass__ runs for its subclasses only),
# wrapped by Airflow's apply_defaults as the metaclass wraps an __init__ written in a class body.
_declare_arguments(LakeOperator)
LakeOperator.__init__ = type(LakeOperator)._apply_defaults(LakeOperator.__init__)  # type: ignore[attr-defined,method-assign]


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
