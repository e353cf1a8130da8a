"""The ParamsDicts of :func:`airlake.pipeline.check_params_once` and :func:`airlake.pipeline.copy_params_directly`
(apart: importing Airflow's ParamsDict starts its provider discovery, and ``airlake.pipeline`` stays
import-light)."""

from __future__ import annotations

import copy
import json
from typing import Any

from airflow.sdk.definitions.param import Param, ParamsDict

_ATOMIC = frozenset({str, int, float, bool, type(None)})


def _copy_json(value: Any, memo: dict[int, Any]) -> Any:
    """``copy.deepcopy(value, memo)`` for JSON data (dicts, lists and the atoms of exactly these types,
    shared containers copied once as deepcopy does), without its dispatch per object; anything else
    goes to ``copy.deepcopy`` with the same memo."""
    kind = type(value)
    if kind in _ATOMIC:
        return value
    if kind is dict or kind is list:
        found = memo.get(id(value))
        if found is not None:
            return found
        if kind is dict:
            copied: Any = {}
            memo[id(value)] = copied
            for key, item in value.items():
                copied[_copy_json(key, memo)] = _copy_json(item, memo)
        else:
            copied = []
            memo[id(value)] = copied
            for item in value:
                copied.append(_copy_json(item, memo))
        return copied
    return copy.deepcopy(value, memo)


class DirectCopyParams(ParamsDict):
    """
    A DAG's :class:`~airflow.sdk.definitions.param.ParamsDict` (:func:`airlake.pipeline.copy_params_directly`)
    whose deep copy is a plain ParamsDict of new :class:`~airflow.sdk.Param` objects holding copies of the
    same values and schemas, as ``copy.deepcopy`` makes it, made without ``copy``'s reconstruction of each
    object. Airflow deep-copies the DAG's Params for every task it builds, three times (once per
    ``apply_defaults`` of its class chain). Everything else is ParamsDict's own.
    """

    __slots__ = ()

    def __deepcopy__(self, memo: dict[int, Any] | None) -> ParamsDict:
        memo = {} if memo is None else memo
        copies: dict[str, Any] = {}
        for name, param in self.items():
            if type(param) is not Param:
                copies[name] = copy.deepcopy(param, memo)
                continue
            copied = memo.get(id(param))
            if copied is None:
                copied = memo[id(param)] = Param.__new__(Param)
                copied.__dict__.update(_copy_json(param.__dict__, memo))
            copies[name] = copied
        return ParamsDict(copies, self.suppress_exception)


class SharedCheckParams(ParamsDict):
    """
    A task's :class:`~airflow.sdk.definitions.param.ParamsDict` whose :meth:`dump` checks each (name,
    schema, value) once among the tasks sharing ``checked`` (:func:`check_params_once`): the same
    validation, the same result, once per DAG instead of twice per task. Comparing it with a dict or
    ParamsDict of another size is False without resolving anything (ParamsDict's ``==`` compares its
    :meth:`dump`, which has this dict's names: the serialiser asks ``params in [{}, []]`` of every task).
    Everything else, ``validate()`` and item access included, is ParamsDict's own; a copy of it is a
    plain ParamsDict.
    """

    __slots__ = ("_checked",)

    def __init__(self, params: ParamsDict, checked: dict[tuple[str, str, str], bool]) -> None:
        super().__init__(params)  # the same Param objects
        self._checked = checked

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, (ParamsDict, dict)) and len(other) != len(self):
            return False  # dump() holds one entry per Param: never equal
        return super().__eq__(other)

    __hash__ = ParamsDict.__hash__  # defining __eq__ would drop it

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, param in self.items():
            try:  # schema and value are JSON (Param refuses values that are not), NOTSET is not
                key = (
                    name,
                    json.dumps(param.schema, sort_keys=True),
                    json.dumps(param.value, sort_keys=True),
                )
            except (TypeError, ValueError):  # no default, or not JSON: ParamsDict's own way
                out[name] = param.resolve(suppress_exception=True)
                continue
            valid = self._checked.get(key)
            if valid is None:
                resolved = param.resolve(suppress_exception=True)
                valid = self._checked[key] = resolved is not None or param.value is None
            out[name] = param.value if valid else None  # what resolve() would return
        return out
