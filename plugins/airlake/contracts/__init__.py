"""Dataset contracts: one YAML file per dataset under include/contracts/, validated into a typed model.

A dataset is added by adding ``include/contracts/<name>.yaml`` (no Python): its source, schema,
primary key, event time and partitioning, de-duplication, quality rules, tiering and warehouse
target. Every stage reads what it needs from the :class:`Contract`.

    from airlake.contracts import load_contracts

    for name, contract in load_contracts().items():  # cached: cheap at DAG parse time
        ...

Light to import (pydantic and pyyaml only): pyarrow is imported by :meth:`Contract.arrow_schema`
when called, croniter when a cron schedule is validated.
"""

from __future__ import annotations

from airlake.contracts.errors import ContractError, ContractIssue
from airlake.contracts.loader import (
    CONTRACTS_DIR_ENV,
    DEFAULT_CONTRACTS_DIR,
    JSON_SCHEMA_PATH,
    PROJECT_ROOT,
    ContractScan,
    clear_cache,
    contracts_dir,
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
