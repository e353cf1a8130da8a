"""Where the contracts are and which datasets they name, without parsing or validating them.

Light to import (no pydantic, no YAML): a DAG file that needs only the datasets' names (the reprocess
form's dataset picker) lists them with :func:`contract_names` instead of building the contract models.
The contracts are validated where their pipelines are built (``dags/airlake_datasets.py``: an invalid
file is that file's import error, naming it and each problem) and by every task that reads one.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
"""The project root (the folder holding plugins/, dags/ and include/)."""
DEFAULT_CONTRACTS_DIR = PROJECT_ROOT / "include" / "contracts"
CONTRACTS_DIR_ENV = "AIRLAKE_CONTRACTS_DIR"
"""Environment variable overriding the contracts folder."""
CONTRACT_SUFFIXES = (".yaml", ".yml")


def contracts_dir(folder: str | os.PathLike[str] | None = None) -> Path:
    """The contracts folder: ``folder``, else $AIRLAKE_CONTRACTS_DIR, else the project's include/contracts."""
    if folder is not None:
        return Path(folder)
    env = os.environ.get(CONTRACTS_DIR_ENV)
    return Path(env) if env else DEFAULT_CONTRACTS_DIR


def contract_files(folder: Path) -> list[Path]:
    """The contract files of ``folder`` (``*.yaml``, ``*.yml``; not hidden, not ``_``-prefixed), sorted."""
    return sorted(
        path
        for path in folder.iterdir()
        if path.suffix in CONTRACT_SUFFIXES and not path.name.startswith((".", "_")) and path.is_file()
    )


def contract_names(folder: str | os.PathLike[str] | None = None) -> list[str]:
    """
    The dataset names of the contracts folder, sorted, read from the file names: a contract's name is
    its file's stem (the loader refuses a file that says otherwise), so for a valid folder these are
    exactly the keys of :func:`~airlake.contracts.load_contracts`. Nothing is parsed or validated; an
    empty list when the folder does not exist.
    """
    directory = contracts_dir(folder)
    if not directory.is_dir():
        return []
    return sorted({path.stem for path in contract_files(directory)})
