"""CATALOG stage: the Glue Data Catalog kept in step with the contracts and the curated partitions.

    from airlake.catalog import ensure_database, ensure_table, publish_partitions

    ensure_database(glue, "airlake")
    change = ensure_table(glue, "airlake", contract, bucket)  # create, or evolve (added nullable columns)
    table = get_table(glue, "airlake", contract.name)
    publish_partitions(glue, "airlake", contract.name, manifest["partitions"], table["StorageDescriptor"])

Plain functions over a boto3 ``glue`` client (``airlake.aws.lake_client(GlueCatalogHook(...))`` in the
operators, ``boto3.client("glue", endpoint_url=...)`` in tests), so everything here runs without Airflow.
One module per concern, each name importable from here:

- :mod:`airlake.catalog.errors`: the errors, and ``ClientError`` -> :class:`CatalogError`;
- :mod:`airlake.catalog.database`: the database;
- :mod:`airlake.catalog.tables`: the table of a contract, schema evolution;
- :mod:`airlake.catalog.partitions`: partition reads, publishing, the live-version lookup, archive flags;
- :mod:`airlake.catalog.parquet`: Parquet footers checked against the table;
- :mod:`airlake.catalog.crawler`: the optional crawler.

Light to import (botocore only); pyarrow is imported by the Parquet footer functions when called.
"""

from __future__ import annotations

from airlake.catalog.crawler import crawler_config
from airlake.catalog.database import ensure_database
from airlake.catalog.errors import (
    CatalogError,
    ColumnChange,
    ParquetSchemaError,
    PartitionPublishError,
    SchemaEvolutionError,
    error_code,
    glue_call,
)
from airlake.catalog.parquet import (
    FOOTER_TAIL_BYTES,
    S3TailFile,
    arrow_to_glue_type,
    check_parquet_schema,
    date_ranges,
    read_parquet_metadata,
    read_parquet_schema,
)
from airlake.catalog.partitions import (
    BATCH_GET_SIZE,
    BATCH_SIZE,
    PARAM_ARCHIVED,
    PARAM_RESTORED_UNTIL,
    PARAM_STORAGE_CLASS,
    archived_partitions,
    clear_archived,
    current_location,
    get_partitions,
    is_archived,
    live_location_lookup,
    live_locations,
    mark_archived,
    mark_restored,
    partition_location,
    partition_locations,
    publish_partitions,
    table_partitions,
    update_partition_parameters,
)
from airlake.catalog.tables import (
    COLUMN_PARAM_NULLABLE,
    MAX_COMMENT,
    MAX_TABLE_DESCRIPTION,
    PARAM_CONTRACT,
    PARAM_SCHEMA_HASH,
    PARAM_VERSION,
    PARQUET_INPUT_FORMAT,
    PARQUET_OUTPUT_FORMAT,
    PARQUET_SERDE,
    SAFE_WIDENINGS,
    TableChange,
    comparable_table,
    create_table,
    curated_location,
    ensure_table,
    get_table,
    normalize_glue_type,
    parquet_storage_descriptor,
    partition_key_of,
    plan_table,
    table_input,
)

__all__ = [
    "BATCH_GET_SIZE",
    "BATCH_SIZE",
    "COLUMN_PARAM_NULLABLE",
    "FOOTER_TAIL_BYTES",
    "MAX_COMMENT",
    "MAX_TABLE_DESCRIPTION",
    "PARAM_ARCHIVED",
    "PARAM_CONTRACT",
    "PARAM_RESTORED_UNTIL",
    "PARAM_SCHEMA_HASH",
    "PARAM_STORAGE_CLASS",
    "PARAM_VERSION",
    "PARQUET_INPUT_FORMAT",
    "PARQUET_OUTPUT_FORMAT",
    "PARQUET_SERDE",
    "SAFE_WIDENINGS",
    "CatalogError",
    "ColumnChange",
    "ParquetSchemaError",
    "PartitionPublishError",
    "S3TailFile",
    "SchemaEvolutionError",
    "TableChange",
    "archived_partitions",
    "arrow_to_glue_type",
    "check_parquet_schema",
    "clear_archived",
    "comparable_table",
    "crawler_config",
    "create_table",
    "curated_location",
    "current_location",
    "date_ranges",
    "ensure_database",
    "ensure_table",
    "error_code",
    "get_partitions",
    "get_table",
    "glue_call",
    "is_archived",
    "live_location_lookup",
    "live_locations",
    "mark_archived",
    "mark_restored",
    "normalize_glue_type",
    "parquet_storage_descriptor",
    "partition_key_of",
    "partition_location",
    "partition_locations",
    "plan_table",
    "publish_partitions",
    "read_parquet_metadata",
    "read_parquet_schema",
    "table_input",
    "table_partitions",
    "update_partition_parameters",
]
