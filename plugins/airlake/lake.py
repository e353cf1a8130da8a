"""Where things live in the lake: one place that builds every S3 key, so zones stay consistent.

raw/<dataset>/ingest_date=YYYY-MM-DD/run=<run>/part-*.jsonl.gz   never rewritten
_manifests/<dataset>/<run>/<stage>.json                          what a stage of a run read and wrote (latest)
_manifests/<dataset>/<run>/<stage>/attempt=<n>.json              the same, every attempt kept
_manifests/<dataset>/<run>/redshift_copy.manifest                the files a Redshift COPY of the run loads
_state/<dataset>/<stage>.json                                    checkpoints (watermarks, offsets, files)
curated/<dataset>/dt=YYYY-MM-DD/v=<version>/part-*.parquet       one immutable version per curate attempt
quarantine/<dataset>/dt=<ingest date>/run=<run>/rejects.jsonl.gz  rejected rows with their reasons
quarantine/<dataset>/files/ingest_date=<d>/run=<run>/<name>      a landing file that cannot be read at all,
quarantine/<dataset>/files/ingest_date=<d>/run=<run>/<name>.reason.json   whole, and why
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
    """The latest attempt's record of a stage of a run (a copy of its ``attempt=<n>.json``)."""
    return f"_manifests/{dataset}/{safe_run_id(run_id)}/{stage}.json"


def manifests_prefix(dataset: str) -> str:
    """Every record of every run of a dataset: the index of its raw log."""
    return f"_manifests/{dataset}/"


def manifest_attempts_prefix(dataset: str, run_id: str, stage: str) -> str:
    """Every attempt's record of a stage of a run, kept: a retry or a clear never overwrites one."""
    return f"_manifests/{dataset}/{safe_run_id(run_id)}/{stage}/"


def manifest_attempt_key(dataset: str, run_id: str, stage: str, attempt: int) -> str:
    return f"{manifest_attempts_prefix(dataset, run_id, stage)}attempt={attempt}.json"


def consumed_marker_key(dataset: str, raw_run_id: str, curate_run_id: str) -> str:
    """Beside a raw run's records: the run whose curate consumed it (an index into the log, see manifest.py)."""
    return f"_manifests/{dataset}/{safe_run_id(raw_run_id)}/consumed_by/{safe_run_id(curate_run_id)}.json"


def state_key(dataset: str, stage: str) -> str:
    return f"_state/{dataset}/{stage}.json"


def lock_key(dataset: str, stage: str) -> str:
    """The lock one run of a stage holds while it reads and moves the stage's checkpoint."""
    return f"_state/{dataset}/{stage}.lock"


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://<bucket>/<key>`` (or ``s3a://``) -> ``(bucket, key)``; the key may be empty or a prefix. ValueError naming the
    URI when it is not an ``s3://`` URI with a bucket."""
    scheme, sep, rest = uri.partition("://") if isinstance(uri, str) else ("", "", "")
    if not sep or scheme.lower() not in ("s3", "s3a"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ValueError(f"s3:// URI without a bucket: {uri!r}")
    return bucket, key


def s3_prefix(uri: str) -> tuple[str, str]:
    """A location ``s3://<bucket>/<prefix>`` as ``(bucket, prefix)`` with the prefix ending in one ``/``."""
    bucket, key = split_s3_uri(uri)
    return bucket, key.rstrip("/") + "/"


def curated_dataset_prefix(dataset: str) -> str:
    return f"curated/{dataset}/"


def partition_segment(value: str, column: str = "dt") -> str:
    """The Hive-style key segment of one partition, ``<column>=<value>``; ``column`` is the contract's
    ``partitioning.column`` (``dt`` unless a contract names another)."""
    return f"{column}={value}"


def curated_partition_prefix(dataset: str, dt: str, *, column: str = "dt") -> str:
    """Every version of one partition: ``curated/<dataset>/<column>=<dt>/``."""
    return f"curated/{dataset}/{partition_segment(dt, column)}/"


def curated_version_prefix(dataset: str, dt: str, version: str, *, column: str = "dt") -> str:
    """One immutable version of a partition; the catalog points the partition at exactly one of them."""
    return f"{curated_partition_prefix(dataset, dt, column=column)}v={version}/"


def parse_curated_version_prefix(prefix: str, partition_column: str = "dt") -> tuple[str, str, str]:
    """``curated/<dataset>/<partition_column>=<value>/v=<version>/`` -> ``(dataset, value, version)``, the
    inverse of :func:`curated_version_prefix`; ValueError naming the prefix when it is not one."""
    parts = prefix.split("/")
    if (
        len(parts) == 5
        and parts[0] == "curated"
        and parts[4] == ""
        and parts[1]
        and parts[2].startswith(f"{partition_column}=")
        and parts[3].startswith("v=")
    ):
        value, version = parts[2][len(partition_column) + 1 :], parts[3][2:]
        if value and version:
            return parts[1], value, version
    raise ValueError(f"not a curated version prefix: {prefix!r}")


def quarantine_key(dataset: str, ingest_date: date, run_id: str) -> str:
    """The rejects of one curate run, filed under the day the data was ingested."""
    return f"quarantine/{dataset}/dt={ingest_date.isoformat()}/run={safe_run_id(run_id)}/rejects.jsonl.gz"


def quarantine_files_prefix(dataset: str, ingest_date: date, run_id: str) -> str:
    """The poison files one ingest run set aside whole (they are not rows, so not under ``dt=``)."""
    return f"quarantine/{dataset}/files/ingest_date={ingest_date.isoformat()}/run={safe_run_id(run_id)}/"


def quarantine_file_key(dataset: str, ingest_date: date, run_id: str, name: str) -> str:
    """Where the original bytes of a poison file go; ``name`` is its key below the landing prefix."""
    parts = [part for part in name.split("/") if part]
    if not parts or any(part in {".", ".."} for part in parts):
        raise ValueError(f"not a usable file name for quarantine: {name!r}")
    return quarantine_files_prefix(dataset, ingest_date, run_id) + "/".join(parts)


def quarantine_reason_key(file_key: str) -> str:
    """The reason record beside a quarantined file."""
    return f"{file_key}.reason.json"


def copy_manifest_key(dataset: str, run_id: str) -> str:
    """The Redshift COPY manifest of one run's load, beside its stage manifests: the exact files loaded."""
    return f"_manifests/{dataset}/{safe_run_id(run_id)}/redshift_copy.manifest"
