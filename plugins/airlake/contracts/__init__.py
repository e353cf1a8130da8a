"""Dataset contracts: one YAML file per dataset under include/contracts/, validated into a typed model.

A dataset is added by adding ``include/contracts/<name>.yaml`` (no Python): its source, schema,
primary key, event time and partitioning, de-duplication, quality rules, tiering and warehouse
target. Every stage reads what it needs from the :class:`Contract`.

    from airlake.contracts import load_contracts

    for name, contract in load_contracts().items():  # cached: cheap at DAG parse time
        ...

Light to import: the package names its members and imports each from its module on first use
(PEP 562), so ``from airlake.contracts import contract_names`` (the file names: no pydantic, no YAML)
does not build the contract models; ``Contract``, ``load_contracts`` and the other members bring in
pydantic and pyyaml (the models are built once per process, ~35-50 ms). pyarrow is imported by
:meth:`Contract.arrow_schema` when called, croniter when a cron schedule is validated.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from airlake.contracts.errors import ContractError, ContractIssue
from airlake.contracts.files import (
    CONTRACTS_DIR_ENV,
    DEFAULT_CONTRACTS_DIR,
    PROJECT_ROOT,
    contract_names,
    contracts_dir,
)

if TYPE_CHECKING:
    from airlake.contracts.loader import (
        JSON_SCHEMA_PATH,
        ContractScan,
        clear_cache,
        get_contract,
        load_contract,
        load_contracts,
        render_json_schema,
        scan_contracts,
        write_json_schema,
    )
    from airlake.contracts.model import (
        CHECK_KINDS,
        SOURCE_KINDS,
        AcceptedValuesCheck,
        Column,
        Contract,
        CsvOptions,
        DatabaseSource,
        Dedup,
        FilesSource,
        FreshnessCheck,
        HttpPagination,
        HttpSource,
        KinesisSource,
        NotNullCheck,
        Partitioning,
        Quality,
        QualityCheck,
        RangeCheck,
        RowCountMinCheck,
        Source,
        SqsSource,
        Tiering,
        UniqueCheck,
        Warehouse,
        json_schema,
    )
    from airlake.contracts.types import ColumnType, parse_type

_LAZY = {
    **dict.fromkeys(
        (
            "JSON_SCHEMA_PATH",
            "ContractScan",
            "clear_cache",
            "get_contract",
            "load_contract",
            "load_contracts",
            "render_json_schema",
            "scan_contracts",
            "write_json_schema",
        ),
        "airlake.contracts.loader",
    ),
    **dict.fromkeys(
        (
            "CHECK_KINDS",
            "SOURCE_KINDS",
            "AcceptedValuesCheck",
            "Column",
            "Contract",
            "CsvOptions",
            "DatabaseSource",
            "Dedup",
            "FilesSource",
            "FreshnessCheck",
            "HttpPagination",
            "HttpSource",
            "KinesisSource",
            "NotNullCheck",
            "Partitioning",
            "Quality",
            "QualityCheck",
            "RangeCheck",
            "RowCountMinCheck",
            "Source",
            "SqsSource",
            "Tiering",
            "UniqueCheck",
            "Warehouse",
            "json_schema",
        ),
        "airlake.contracts.model",
    ),
    "ColumnType": "airlake.contracts.types",
    "parse_type": "airlake.contracts.types",
}
"""Members imported from their module on first use: the loader and the models (pydantic, pyyaml)."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # asked once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "CHECK_KINDS",
    "CONTRACTS_DIR_ENV",
    "DEFAULT_CONTRACTS_DIR",
    "JSON_SCHEMA_PATH",
    "PROJECT_ROOT",
    "SOURCE_KINDS",
    "AcceptedValuesCheck",
    "Column",
    "ColumnType",
    "Contract",
    "ContractError",
    "ContractIssue",
    "ContractScan",
    "CsvOptions",
    "DatabaseSource",
    "Dedup",
    "FilesSource",
    "FreshnessCheck",
    "HttpPagination",
    "HttpSource",
    "KinesisSource",
    "NotNullCheck",
    "Partitioning",
    "Quality",
    "QualityCheck",
    "RangeCheck",
    "RowCountMinCheck",
    "Source",
    "SqsSource",
    "Tiering",
    "UniqueCheck",
    "Warehouse",
    "clear_cache",
    "contract_names",
    "contracts_dir",
    "get_contract",
    "json_schema",
    "load_contract",
    "load_contracts",
    "parse_type",
    "render_json_schema",
    "scan_contracts",
    "write_json_schema",
]
