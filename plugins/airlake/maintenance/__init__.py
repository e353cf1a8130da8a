"""Weekly lake maintenance: delete expired curated versions, compact partitions of small files.

    from airlake.maintenance import cleanup_expired_versions, compact_dataset

    cleanup_expired_versions(store, glue, "airlake", ["orders"], grace=timedelta(hours=72))
    compact_dataset(store, glue, "airlake", contract, work_dir)  # new version, then Glue publish

Both read what is live from the Glue catalog and never delete or overwrite the live version of a
partition. Light to import: pyarrow is imported when a partition is compacted.
"""

from __future__ import annotations

from airlake.maintenance.cleanup import (
    ExpiredVersion,
    clean_dataset,
    cleanup_expired_versions,
    delete_prefix,
)
from airlake.maintenance.compaction import (
    DEFAULT_MAX_FILES,
    DEFAULT_SMALL_FILE_BYTES,
    CompactionError,
    CompactionPlan,
    CompactionPolicy,
    compact_dataset,
    compact_partition,
    plan_compaction,
)

__all__ = [
    "DEFAULT_MAX_FILES",
    "DEFAULT_SMALL_FILE_BYTES",
    "CompactionError",
    "CompactionPlan",
    "CompactionPolicy",
    "ExpiredVersion",
    "clean_dataset",
    "cleanup_expired_versions",
    "compact_dataset",
    "compact_partition",
    "delete_prefix",
    "plan_compaction",
]
