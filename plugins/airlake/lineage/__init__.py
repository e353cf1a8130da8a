"""OpenLineage of the stages: what a run read and wrote, as OpenLineage datasets.

Each operator records a :class:`Lineage` at the end of ``execute``, from what it already holds (its
summary, its manifest, its contract), without importing OpenLineage; its
``get_openlineage_facets_on_complete`` only converts it with :func:`operator_lineage` (no I/O there).
The OpenLineage provider's listener calls that method when a task succeeds, and also when it fails
(there is no ``..._on_failure``): then it reports what the task recorded before failing, usually
nothing. Recording never fails a task: a builder that raises logs a warning and records nothing.

Names follow the OpenLineage naming spec, as the Amazon provider's operators use it:

- lake objects: namespace ``s3://<bucket>``, name ``<zone>/<dataset>`` (``raw/orders``,
  ``curated/orders``, ``quarantine/orders``, ``analytics/<view>``, ``reports/business``): one dataset per
  zone and dataset, the same in every run, so the stages join up into one graph. The exact objects a
  run read or wrote are in the ``subset`` facet (a ``LocationSubsetCondition`` of their keys), the shape
  openlineage-python's dataset reducer gives partitioned paths.
- Glue tables: ``awsathena://athena.<region>.amazonaws.com``, ``AwsDataCatalog.<database>.<table>``
  (AthenaOperator's convention), a ``symlinks`` facet to their S3 dataset, and the partitions a run
  published in the ``subset`` facet (a ``PartitionSubsetCondition`` on ``dt``).
- the warehouse and database sources: ``postgres://<host>:<port>`` or
  ``redshift://<cluster>.<region>:<port>`` (as RedshiftSQLHook names it), ``<database>.<schema>.<table>``;
  an unqualified table is in ``public``.
- other sources: HTTP APIs ``<scheme>://<host>[:<port>]`` + the path; Kinesis streams
  ``kinesis://kinesis.<region>.amazonaws.com`` + the stream; SQS ``sqs://sqs.<region>.amazonaws.com`` + the
  queue (the spec names neither: the same ``scheme://authority`` + name split as Athena).

One module per concern: :mod:`~airlake.lineage.records` (what a run recorded),
:mod:`~airlake.lineage.naming` (datasets named as the providers name them), :mod:`~airlake.lineage.stages`
(one builder per stage), :mod:`~airlake.lineage.facets` (the conversion to the provider's types).
"""

from __future__ import annotations

from airlake.lineage.facets import (
    PARTITION_COLUMN,
    operator_lineage,
)
from airlake.lineage.naming import (
    ATHENA_CATALOG,
    DEFAULT_SCHEMA,
    athena_namespace,
    database_namespace,
    database_table,
    qualified_tables,
    region_of,
    s3_dataset,
    source_dataset,
    table_dataset,
    zone_dataset,
)
from airlake.lineage.records import (
    Lineage,
    LineageDataset,
)
from airlake.lineage.stages import (
    catalog_lineage,
    cleanup_lineage,
    compaction_lineage,
    curate_lineage,
    ingest_lineage,
    load_lineage,
    materialise_lineage,
    quality_lineage,
    report_lineage,
    storage_report_lineage,
)

__all__ = [
    "ATHENA_CATALOG",
    "DEFAULT_SCHEMA",
    "PARTITION_COLUMN",
    "Lineage",
    "LineageDataset",
    "athena_namespace",
    "catalog_lineage",
    "cleanup_lineage",
    "compaction_lineage",
    "curate_lineage",
    "database_namespace",
    "database_table",
    "ingest_lineage",
    "load_lineage",
    "materialise_lineage",
    "operator_lineage",
    "qualified_tables",
    "quality_lineage",
    "region_of",
    "report_lineage",
    "s3_dataset",
    "source_dataset",
    "storage_report_lineage",
    "table_dataset",
    "zone_dataset",
]
