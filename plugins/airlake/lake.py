"""Where things live in the lake: one place that builds every S3 key, so zones stay consistent.

raw/<dataset>/ingest_date=YYYY-MM-DD/run=<run>/part-*.jsonl.gz   never rewritten
_manifests/<dataset>/<run>/<stage>.json                          what a stage of a run read and wrote
_state/<dataset>/<stage>.json                                    checkpoints (watermarks, offsets, files)
"""

from __future__ import annotations

import re
from datetime import date

_UNSAFE_RUN_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


def safe_run_id(run_id: str) -> str:
    """Airflow run ids hold ':' and '+'; keep keys and Hive partition values portable."""
    if not run_id:
        raise ValueError("run_id must not be empty")
    return _UNSAFE_RUN_CHARS.sub("_", run_id)


def raw_run_prefix(dataset: str, ingest_date: date, run_id: str) -> str:
    return f"raw/{dataset}/ingest_date={ingest_date.isoformat()}/run={safe_run_id(run_id)}/"


def raw_dataset_prefix(dataset: str) -> str:
    return f"raw/{dataset}/"


def manifest_key(dataset: str, run_id: str, stage: str) -> str:
    return f"_manifests/{dataset}/{safe_run_id(run_id)}/{stage}.json"


def state_key(dataset: str, stage: str) -> str:
    return f"_state/{dataset}/{stage}.json"


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"
