"""CURATE on the query engine (contract ``curate: {engine: athena}``): the same run as the worker path,
computed by :func:`~airlake.curate.sql.curate_sql` instead of in the Airflow worker.

    from airlake.curate.sqlrun import LocalSqlCurate, run_curate_sql

    result = run_curate_sql(contract, store, run_id=run_id, live_location=lookup, work_dir=tmp,
                            engine=LocalSqlCurate(work_dir=tmp))   # or AthenaSqlCurate(...) on AWS

What stays the worker path's (reused from its homes, in :func:`~airlake.curate.run_curate`'s order of
steps): which raw runs a run consumes and the checks of the ingest manifest
(:mod:`airlake.curate.inputs`), the live-location lookups, reuse of a pending version, the byte-for-byte
"unchanged" comparison and the removal of orphan versions (:mod:`airlake.curate.partitions`), the version
id (:mod:`airlake.curate.versions`), the quarantine upload, reject budget, row accounting, manifest, state
and summary (:mod:`airlake.curate.record`). So catalog publish, quality checks, load and lineage read the
result unchanged.

What the engine does, all in SQL on a table of raw lines (``raw_lines``: ``line``, ``seq``, ``source``,
``line_number``) and the live rows of the touched partitions (``existing``):

1. counts per part (``read``) and per partition (``rows_new``, ``rows_existing``);
2. the rejects with reason and field (``rejects=True``), written as the worker's quarantine file
   (:class:`~airlake.curate.parts.RejectWriter`: same keys, same gzip JSON Lines layout);
3. the curated rows, de-duplicated against the live partition, written per partition into the new
   version prefix ``curated/<ds>/dt=<dt>/v=<version>/``.

Engines: :class:`LocalSqlCurate` (DuckDB on the SQL transpiled by sqlglot, raw parts and live files
downloaded from S3; Parquet written by the worker path's :class:`~airlake.curate.merge.ParquetPartWriter`,
so the files are byte-identical to the worker's for the same rows) and :class:`AthenaSqlCurate`
(a per-run Glue external table over the raw run prefixes, CTAS of the result, one ``UNLOAD`` per
partition into its version prefix, the rejects ``UNLOAD`` as gzip JSON; every query id kept for
:meth:`~SqlCurateEngine.on_kill`).

Limits of this path against the worker's (see also :mod:`airlake.curate.sql`): JSON Lines raw parts
only (:func:`~airlake.curate.sql.sql_unsupported`); the raw text of a line with bytes invalid in UTF-8
holds U+FFFD where the worker keeps the byte (the reason, ``bad_encoding``, is the same). On Athena:
rejects carry line 0 (Athena has no line numbers), duplicates that tie on ``dedup.order_by`` are broken
arbitrarily (the worker keeps the later line), a UTF-8 byte order mark makes the first line
``not_json``, no "unchanged" comparison is made (every run writes its versions), and the statements
were exercised against a DuckDB stand-in (``tests/.../test_curate_athena_statements.py``), not yet on
AWS: UNLOAD's file names (not ``part-*.parquet``) and Parquet timestamp types are to be checked there.
The Athena engine polls; it is not deferrable yet.
"""

from __future__ import annotations

from airlake.curate.sqlrun.athena import AthenaSqlCurate
from airlake.curate.sqlrun.local import LocalSqlCurate
from airlake.curate.sqlrun.run import LIVE_ROWS, PartitionOutput, SqlCurateEngine, run_curate_sql

__all__ = [
    "LIVE_ROWS",
    "AthenaSqlCurate",
    "LocalSqlCurate",
    "PartitionOutput",
    "SqlCurateEngine",
    "run_curate_sql",
]
