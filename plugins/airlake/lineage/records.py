"""What one run of a stage read and wrote, in plain values; recording it never fails the task."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_R = TypeVar("_R")


@dataclass(frozen=True)
class LineageDataset:
    """One OpenLineage dataset of a run, in plain values (converted by :func:`operator_lineage`)."""

    namespace: str
    name: str
    locations: tuple[str, ...] = ()
    """The exact keys (or prefixes) the run read or wrote: the ``subset`` facet."""
    partitions: tuple[str, ...] = ()
    """The ``dt`` partitions of a table the run read or wrote: the ``subset`` facet."""
    rows: int | None = None
    size: int | None = None
    files: int | None = None
    symlink: tuple[str, str] | None = None
    """``(namespace, name)`` of a table's storage: the ``symlinks`` facet."""
    dropped: bool = False
    """The run deleted the dataset: the ``lifecycleStateChange`` facet (DROP)."""
    assertions: tuple[dict[str, Any], ...] = ()
    """Quality checks run on an input: ``dataQualityAssertions`` (keys of its ``Assertion``)."""


@dataclass(frozen=True)
class Lineage:
    """What one run of a stage read and wrote."""

    inputs: tuple[LineageDataset, ...] = field(default_factory=tuple)
    outputs: tuple[LineageDataset, ...] = field(default_factory=tuple)


def _never_raises(builder: Callable[_P, _R]) -> Callable[_P, _R | None]:
    """Lineage is a by-product: a builder that fails logs a warning and gives None, the task goes on."""

    @functools.wraps(builder)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R | None:
        try:
            return builder(*args, **kwargs)
        except Exception:
            log.warning("OpenLineage: %s failed; the run reports no lineage", builder.__name__, exc_info=True)
            return None

    return guarded
