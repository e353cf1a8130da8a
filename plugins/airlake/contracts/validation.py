"""pydantic validation errors of a contract file as :class:`ContractIssue` (field path, message, line).

Messages say what is wrong in the file's terms: the field path as written (no pydantic union tags),
the allowed fields of a mapping with a close match for a typo, the accepted kinds.
"""

from __future__ import annotations

from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from airlake.contracts.errors import ContractIssue, FieldIssues, Loc, format_loc
from airlake.contracts.model import CHECK_KINDS, SOURCE_KINDS, Contract
from airlake.contracts.yaml_loader import _line_of


def _clean_loc(loc: tuple[Any, ...], data: Any) -> Loc:
    """Drop the parts pydantic adds that are not in the file: union tags (``source.database``) and members."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict):
            if part in node:
                out.append(part)
                node = node[part]
            elif part == node.get("kind"):
                continue  # discriminator tag
            else:
                out.append(part)  # a missing or unknown key
                node = None
        elif isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif node is not None and isinstance(part, str):
            continue  # a union member name under a scalar value
        else:
            out.append(part)
            node = None
    return tuple(out)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    models: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        models.extend(_models_in(arg))
    return models


def _model_at(loc: Loc, data: Any) -> type[BaseModel] | None:
    """The model validating the mapping at ``loc`` of the input (following discriminators)."""
    candidates: list[type[BaseModel]] = [Contract]
    node = data
    for part in loc:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            continue
        model = _pick(candidates, node)
        if model is None:
            return None
        field = next(
            (f for name, f in model.model_fields.items() if part in (name, f.alias)),
            None,
        )
        if field is None:
            return None
        candidates = _models_in(field.annotation)
        node = node.get(part) if isinstance(node, dict) else None
    return _pick(candidates, node)


def _pick(candidates: list[type[BaseModel]], node: Any) -> type[BaseModel] | None:
    if len(candidates) == 1:
        return candidates[0]
    kind = node.get("kind") if isinstance(node, dict) else None
    for model in candidates:
        field = model.model_fields.get("kind")
        if field is not None and kind in get_args(field.annotation):
            return model
    return None


def _describe(value: Any) -> str:
    names = {
        "str": "string",
        "int": "integer",
        "float": "number",
        "bool": "boolean",
        "NoneType": "null",
        "dict": "mapping",
        "list": "list",
        "datetime": "timestamp",
    }
    kind = names.get(type(value).__name__, type(value).__name__)
    if isinstance(value, dict | list):
        return kind
    text = repr(value)
    return f"{kind} {text if len(text) <= 60 else text[:57] + '...'}"


def _unknown_field(loc: Loc, data: Any) -> str:
    key = loc[-1]
    model = _model_at(loc[:-1], data)
    if model is None:
        return f"unknown field {key!r}"
    allowed = [field.alias or name for name, field in model.model_fields.items()]
    import difflib  # only for a contract with an error (not at every DAG parse)

    close = difflib.get_close_matches(str(key), allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown field {key!r} ({hint}allowed: {', '.join(allowed)})"


def _messages(err: dict[str, Any], loc: Loc, data: Any) -> list[tuple[Loc, str]]:
    etype: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    value = err.get("input")
    if etype in ("value_error", "assertion_error"):
        error = ctx.get("error")
        if isinstance(error, FieldIssues):
            return [((*loc, *sub), message) for sub, message in error.issues]
        return [(loc, str(error) if error is not None else err["msg"])]
    if etype == "extra_forbidden":
        return [(loc, _unknown_field(loc, data))]
    if etype == "missing":
        return [(loc, "required field missing")]
    kinds = SOURCE_KINDS if loc == ("source",) else CHECK_KINDS
    expected_kinds = ", ".join(repr(kind) for kind in kinds)
    if etype == "union_tag_invalid":
        return [((*loc, "kind"), f"unknown kind {ctx.get('tag')!r} (expected one of {expected_kinds})")]
    if etype == "union_tag_not_found":
        if isinstance(value, dict):
            return [((*loc, "kind"), f"required field missing (one of {expected_kinds})")]
        return [(loc, f"expected a mapping with a kind (one of {expected_kinds}), got {_describe(value)}")]
    if etype == "literal_error":
        return [(loc, f"invalid value {_describe(value)} (expected {ctx.get('expected')})")]
    if etype in ("model_type", "model_attributes_type", "dict_type"):
        return [(loc, f"expected a mapping, got {_describe(value)}")]
    if etype in ("tuple_type", "list_type"):
        return [(loc, f"expected a list, got {_describe(value)}")]
    if etype == "too_short":
        return [(loc, f"must have at least {ctx.get('min_length')} item(s)")]
    message: str = err["msg"]
    if message.startswith("Input should"):
        message = "must" + message[len("Input should") :]
    elif message.startswith("String should"):
        message = "must" + message[len("String should") :]
    else:
        message = message[:1].lower() + message[1:]
    return [(loc, f"{message}, got {_describe(value)}")]


def _issues_from_validation(
    exc: ValidationError, data: Any, node: yaml.Node | None, file: str
) -> list[ContractIssue]:
    issues: list[ContractIssue] = []
    seen: set[tuple[str, str]] = set()
    for err in exc.errors(include_url=False):
        for loc, message in _messages(dict(err), _clean_loc(err["loc"], data), data):
            path = format_loc(loc)
            if (path, message) in seen:
                continue
            seen.add((path, message))
            issues.append(ContractIssue(file, path, message, line=_line_of(node, loc)))
    return issues
