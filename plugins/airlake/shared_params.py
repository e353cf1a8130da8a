"""The ParamsDict of :func:`airlake.pipeline.check_params_once` (apart: importing Airflow's ParamsDict
starts its provider discovery, and ``airlake.pipeline`` stays import-light)."""

from __future__ import annotations

import json
from typing import Any

from airflow.sdk.definitions.param import ParamsDict


class SharedCheckParams(ParamsDict):
    """
    A task's :class:`~airflow.sdk.definitions.param.ParamsDict` whose :meth:`dump` checks each (name,
    schema, value) once among the tasks sharing ``checked`` (:func:`check_params_once`): the same
    validation, the same result, once per DAG instead of twice per task. Everything else, ``validate()``
    and item access included, is ParamsDict's own; a copy of it is a plain ParamsDict.
    """

    __slots__ = ("_checked",)

    def __init__(self, params: ParamsDict, checked: dict[tuple[str, str, str], bool]) -> None:
        super().__init__(params)  # the same Param objects
        self._checked = checked

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
