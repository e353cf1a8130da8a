"""Load contracts from YAML: clear errors (file, field path, what is wrong, line) and a parse-time cache.

DAG files call :func:`load_contracts` at parse time; every call reads the files, and a file is parsed
and validated again only when its content changed (the cache is keyed on the SHA-256 of its bytes, so
no timestamp granularity or preserved mtime can serve a stale contract) or a file is added or removed.
The YAML is read by :mod:`airlake.contracts.yaml_loader`; validation errors become issues in
:mod:`airlake.contracts.validation`.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import NamedTuple

from pydantic import ValidationError

from airlake.contracts.errors import ContractError, ContractIssue
from airlake.contracts.files import (
    CONTRACTS_DIR_ENV,
    DEFAULT_CONTRACTS_DIR,
    PROJECT_ROOT,
    contract_files,
    contracts_dir,
)
from airlake.contracts.model import Contract, json_schema
from airlake.contracts.yaml_loader import _line_of, _parse_yaml

JSON_SCHEMA_PATH = DEFAULT_CONTRACTS_DIR / "contract.schema.json"


def display_path(path: str | os.PathLike[str]) -> str:
    """A path as shown in errors: relative to the project root (or the working directory) when inside it."""
    resolved = Path(path).resolve()
    for base in (PROJECT_ROOT, Path.cwd()):
        try:
            return resolved.relative_to(base).as_posix()
        except ValueError:
            continue
    return str(path)


# --------------------------------------------------------------------------------------------------
# Loading and caching
# --------------------------------------------------------------------------------------------------


class _Loaded(NamedTuple):
    digest: str  # SHA-256 of the file's bytes ("" when it cannot be read)
    claimed_name: str | None  # the name the file declares, even when it is invalid
    name_line: int | None
    contract: Contract | None
    issues: tuple[ContractIssue, ...]


_lock = threading.Lock()
_file_cache: dict[Path, _Loaded] = {}
_folder_cache: dict[Path, tuple[tuple[tuple[str, str], ...], ContractScan]] = {}


def clear_cache() -> None:
    """Forget every cached contract (the cache also refreshes by itself when files change)."""
    with _lock:
        _file_cache.clear()
        _folder_cache.clear()


def _load_file(path: Path, content: bytes, digest: str) -> _Loaded:
    file = display_path(path)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _Loaded(digest, None, None, None, (ContractIssue(file, "", f"cannot read the file: {exc}"),))
    try:
        data, node = _parse_yaml(text, file)
    except ContractError as exc:
        return _Loaded(digest, None, None, None, exc.issues)
    if data is None:
        return _Loaded(digest, None, None, None, (ContractIssue(file, "", "the file is empty"),))
    if not isinstance(data, dict):
        from airlake.contracts.validation import _describe  # an invalid file only (not every DAG parse)

        message = f"expected a mapping of contract fields at the top level, got {_describe(data)}"
        return _Loaded(digest, None, None, None, (ContractIssue(file, "", message, line=1),))

    claimed = data.get("name") if isinstance(data.get("name"), str) else None
    name_line = _line_of(node, ("name",))
    issues: list[ContractIssue] = []
    contract: Contract | None = None
    try:
        contract = Contract.model_validate(data)
    except ValidationError as exc:
        from airlake.contracts.validation import _issues_from_validation  # an invalid file only

        issues.extend(_issues_from_validation(exc, data, node, file))
    stem = path.stem
    if claimed is not None and claimed != stem and not any(issue.path == "name" for issue in issues):
        issues.append(
            ContractIssue(
                file,
                "name",
                f"dataset name {claimed!r} does not match the file name {path.name!r}: "
                f"a contract for {claimed!r} lives in {claimed}{path.suffix}",
                line=name_line,
            )
        )
    if issues:
        issues.sort(key=lambda issue: issue.line if issue.line is not None else 1 << 30)
        return _Loaded(digest, claimed, name_line, None, tuple(issues))
    return _Loaded(digest, claimed, name_line, contract, ())


def _load_cached(path: Path) -> _Loaded:
    """The file read now, parsed and validated only if its content is not the one cached."""
    resolved = path.resolve()
    try:
        content = resolved.read_bytes()
    except OSError as exc:
        issue = ContractIssue(display_path(path), "", f"cannot read the file: {exc.strerror or exc}")
        return _Loaded("", None, None, None, (issue,))
    digest = hashlib.sha256(content).hexdigest()
    with _lock:
        cached = _file_cache.get(resolved)
    if cached is not None and cached.digest == digest:
        return cached
    loaded = _load_file(resolved, content, digest)
    with _lock:
        _file_cache[resolved] = loaded
    return loaded


def load_contract(path: str | os.PathLike[str]) -> Contract:
    """Load and validate one contract file; raise :class:`ContractError` listing every problem."""
    loaded = _load_cached(Path(path))
    if loaded.contract is None:
        raise ContractError(loaded.issues)
    return loaded.contract


class ContractScan(NamedTuple):
    """Result of :func:`scan_contracts`: the valid contracts and the problems of the others."""

    contracts: dict[str, Contract]
    """Valid contracts by dataset name (a name claimed by several files is kept only for its own
    valid ``<name>.yaml``)."""
    files: dict[str, Path]
    """The file of each valid contract."""
    issues: tuple[ContractIssue, ...]
    """Problems of the invalid files, in file order."""

    @property
    def error(self) -> ContractError | None:
        return ContractError(self.issues) if self.issues else None


def scan_contracts(folder: str | os.PathLike[str] | None = None) -> ContractScan:
    """Load every contract of the folder without raising: for DAG factories that keep valid datasets
    running while an invalid contract is reported (e.g. as a DAG import error)."""
    directory = contracts_dir(folder).resolve()
    if not directory.is_dir():
        issue = ContractIssue(display_path(directory), "", "contracts folder not found")
        return ContractScan({}, {}, (issue,))
    files = contract_files(directory)
    loaded = {path: _load_cached(path) for path in files}
    key: tuple[tuple[str, str], ...] | None = tuple(
        (path.name, result.digest) for path, result in loaded.items()
    )
    if any(not result.digest for result in loaded.values()):
        key = None  # a file vanished or cannot be read: do not cache this scan
    with _lock:
        cached = _folder_cache.get(directory)
    if key is not None and cached is not None and cached[0] == key:
        return ContractScan(dict(cached[1].contracts), dict(cached[1].files), cached[1].issues)

    claims: dict[str, list[Path]] = {}
    for path, result in loaded.items():
        if result.claimed_name is not None:
            claims.setdefault(result.claimed_name, []).append(path)

    contracts: dict[str, Contract] = {}
    paths: dict[str, Path] = {}
    issues: list[ContractIssue] = []
    for path, result in loaded.items():
        issues.extend(result.issues)
        owners = claims.get(result.claimed_name or "", [])
        if len(owners) > 1:
            others = ", ".join(display_path(other) for other in owners if other != path)
            issues.append(
                ContractIssue(
                    display_path(path),
                    "name",
                    f"duplicate dataset name {result.claimed_name!r}: also defined in {others}",
                    line=result.name_line,
                )
            )
            rightful = [other for other in owners if loaded[other].contract is not None]
            if rightful != [path]:
                continue
        if result.contract is not None:
            contracts[result.contract.name] = result.contract
            paths[result.contract.name] = path
    scan = ContractScan(contracts, paths, tuple(issues))
    if key is not None:
        with _lock:
            _folder_cache[directory] = (key, scan)
    return ContractScan(dict(contracts), dict(paths), scan.issues)


def load_contracts(folder: str | os.PathLike[str] | None = None) -> dict[str, Contract]:
    """Load every contract of the folder (see :func:`contracts_dir`), keyed by dataset name.

    Raises :class:`ContractError` listing the problems of all invalid files. Cached per folder and
    files' content digests: repeated calls (DAG parsing) read the files but do not parse or validate
    unchanged YAML again.
    """
    scan = scan_contracts(folder)
    if scan.issues:
        raise ContractError(scan.issues)
    return scan.contracts


def get_contract(name: str, folder: str | os.PathLike[str] | None = None) -> Contract:
    """The contract of dataset ``name`` from the contracts folder; KeyError when there is none."""
    contracts = load_contracts(folder)
    try:
        return contracts[name]
    except KeyError:
        known = ", ".join(sorted(contracts)) or "none"
        raise KeyError(
            f"no contract for dataset {name!r} in {display_path(contracts_dir(folder))} (known: {known})"
        ) from None


def render_json_schema() -> str:
    """The JSON Schema of contract files as committed in include/contracts/contract.schema.json."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_json_schema(path: str | os.PathLike[str] | None = None) -> Path:
    """Write the JSON Schema of contract files (default: include/contracts/contract.schema.json)."""
    target = Path(path) if path is not None else JSON_SCHEMA_PATH
    target.write_text(render_json_schema(), encoding="utf-8")
    return target


__all__ = [
    "CONTRACTS_DIR_ENV",
    "DEFAULT_CONTRACTS_DIR",
    "JSON_SCHEMA_PATH",
    "PROJECT_ROOT",
    "ContractScan",
    "clear_cache",
    "contracts_dir",
    "display_path",
    "get_contract",
    "load_contract",
    "load_contracts",
    "render_json_schema",
    "scan_contracts",
    "write_json_schema",
]
