"""CATALOG stage: the Glue Data Catalog kept in step with the contracts and the curated partitions.

    from airlake.catalog import ensure_database, ensure_table, publish_partitions

    ensure_database(glue, "airlake")
    change = ensure_table(glue, "airlake", contract, bucket)  # create, or evolve (added nullable columns)
    table = get_table(glue, "airlake", contract.name)
    publish_partitions(glue, "airlake", contract.name, manifest["partitions"], table["StorageDescriptor"])

Light to import (botocore only); pyarrow is imported by the Parquet footer functions when called.
"""

from __future__ import annotations

from airlake.catalog.glue import (
    COLUMN_PARAM_NULLABLE,
    PARAM_CONTRACT,
    PARAM_SCHEMA_HASH,
    PARAM_VERSION,
    PARQUET_INPUT_FORMAT,
    PARQUET_OUTPUT_FORMAT,
    PARQUET_SERDE,
    SAFE_WIDENINGS,
    CatalogError,
    ColumnChange,
    ParquetSchemaError,
    PartitionPublishError,
    SchemaEvolutionError,
    TableChange,
    arrow_to_glue_type,
    check_parquet_schema,
    crawler_config,
    curated_location,
    ensure_database,
    ensure_table,
    get_table,
    live_location_lookup,
    plan_table,
    publish_partitions,
    read_parquet_schema,
    table_input,
)

__all__ = [
    "COLUMN_PARAM_NULLABLE",
    "PARAM_CONTRACT",
    "PARAM_SCHEMA_HASH",
    "PARAM_VERSION",
    "PARQUET_INPUT_FORMAT",
    "PARQUET_OUTPUT_FORMAT",
    "PARQUET_SERDE",
    "SAFE_WIDENINGS",
    "CatalogError",
    "ColumnChange",
    "ParquetSchemaError",
    "PartitionPublishError",
    "SchemaEvolutionError",
    "TableChange",
    "arrow_to_glue_type",
    "check_parquet_schema",
    "crawler_config",
    "curated_location",
    "ensure_database",
    "ensure_table",
    "get_table",
    "live_location_lookup",
    "plan_table",
    "publish_partitions",
    "read_parquet_schema",
    "table_input",
]
