"""Where things live in the lake: one place that builds every S3 key, so zones stay consistent.

raw/<dataset>/ingest_date=YYYY-MM-DD/run=<run>/part-*.jsonl.gz   never rewritten
_manifests/<dataset>/<run>/<stage>.json                          what a stage of a run read and wrote (latest)
_manifests/<dataset>/<run>/<stage>/attempt=<n>.json              the same, every attempt kept
_manifests/<dataset>/<run>/redshift_copy.manifest                the files a Redshift COPY of the run loads
_state/<dataset>/<stage>.json                                    checkpoints (watermarks, offsets, files)
curated/<dataset>/dt=YYYY-MM-DD/v=<version>/part-*.parquet       one immutable version per curate attempt
                                                                 (dt: the contract's partition column)
analytics/<view>/dt=YYYY-MM-DD/v=<version>/part-*.parquet        one version per materialise run of a view
quarantine/<dataset>/dt=<ingest date>/run=<run>/rejects.jsonl.gz  rejected rows with their reasons
quarantine/<dataset>/files/ingest_date=<d>/run=<run>/<name>      a landing file that cannot be read at all,
quarantine/<dataset>/files/ingest_date=<d>/run=<run>/<name>.reason.json   whole, and why
reports/<kind>/<period>/report.json (and report.html)           the lake's own reports (storage, business)

Every other module builds and parses keys and ``s3://`` URIs through these functions (a test fails on a key
literal elsewhere): one change of layout is one change here.
"""

from __future__ import annotations

import re
from datetime import date

_UNSAFE_RUN_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
_VERSION_FOLDER = re.compile(r"^[^/]+/[^/]+/.+/v=[^/]+/$")

RAW = "raw"
CURATED = "curated"
ANALYTICS = "analytics"
QUARANTINE = "quarantine"
MANIFESTS = "_manifests"
REPORTS = "reports"
RAW_DATE_COLUMN = "ingest_date"
RAW_SUFFIX = ".jsonl.gz"
"""Raw parts written from records: gzip JSON Lines (a landing file kept whole keeps its own suffix)."""
"""The partition key of raw keys: the day a run landed the data."""
DEFAULT_PARTITION_COLUMN = "dt"
"""The partition key of curated keys unless a contract names another (``partitioning.column``)."""


def safe_run_id(run_id: str) -> str:
    """Airflow run ids hold ':' and '+'; keep keys and Hive partition values portable."""
    if not run_id:
        raise ValueError("run_id must not be empty")
    return _UNSAFE_RUN_CHARS.sub("_", run_id)


def zone_prefix(zone: str, dataset: str | None = None) -> str:
    """A zone's top folder, ``<zone>/``, or one dataset's in it, ``<zone>/<dataset>/``."""
    return f"{zone}/{dataset}/" if dataset else f"{zone}/"


def zone_partition_prefix(zone: str, dataset: str, value: str, column: str) -> str:
    """One partition of a dataset in a zone: ``<zone>/<dataset>/<column>=<value>/`` (every version or run)."""
    return f"{zone_prefix(zone, dataset)}{partition_segment(value, column)}/"


def zone_date_column(zone: str, partition_column: str = DEFAULT_PARTITION_COLUMN) -> str | None:
    """The partition key holding the data date in a zone's keys: raw ``ingest_date``, curated the contract's
    ``partition_column``, analytics ``dt``; None for a zone without one (quarantine, state, manifests)."""
    return {RAW: RAW_DATE_COLUMN, CURATED: partition_column, ANALYTICS: DEFAULT_PARTITION_COLUMN}.get(zone)


def raw_dataset_prefix(dataset: str) -> str:
    return zone_prefix(RAW, dataset)


def raw_date_prefix(dataset: str, ingest_date: date | str) -> str:
    """Every run landed on one day: ``raw/<dataset>/ingest_date=YYYY-MM-DD/``."""
    day = ingest_date if isinstance(ingest_date, str) else ingest_date.isoformat()
    return zone_partition_prefix(RAW, dataset, day, RAW_DATE_COLUMN)


def raw_run_prefix(dataset: str, ingest_date: date, run_id: str) -> str:
    return f"{raw_date_prefix(dataset, ingest_date)}run={safe_run_id(run_id)}/"


def part_name(index: int, suffix: str) -> str:
    """The name of a run's ``index``-th data file, ``part-00000<suffix>``: by order only, so a retried task
    overwrites its own partial output and nothing else."""
    return f"part-{index:05d}{suffix}"


def manifest_key(dataset: str, run_id: str, stage: str) -> str:
    """The latest attempt's record of a stage of a run (a copy of its ``attempt=<n>.json``)."""
    return f"_manifests/{dataset}/{safe_run_id(run_id)}/{stage}.json"


def parse_manifest_key(key: str) -> tuple[str, str, str] | None:
    """``_manifests/<dataset>/<run>/<stage>.json`` -> ``(dataset, run, stage)``, the inverse of
    :func:`manifest_key` (the run as it is in the key); None for any other key."""
    parts = key.split("/")
    if len(parts) == 4 and parts[0] == MANIFESTS and all(parts[1:3]) and parts[3].endswith(".json"):
        stage = parts[3][: -len(".json")]
        if stage:
            return parts[1], parts[2], stage
    return None


def manifests_prefix(dataset: str | None = None) -> str:
    """Every record of every run of a dataset (the index of its raw log); without one, of every dataset."""
    return zone_prefix(MANIFESTS, dataset)


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


def key_zone(key: str) -> tuple[str, str | None]:
    """``(top folder, dataset)`` of a key: ``curated/orders/dt=.../x`` -> ``("curated", "orders")``; the
    dataset is None when the key has no folder below the top one (``reports`` has kinds there, not datasets)."""
    head, _, rest = key.partition("/")
    dataset, slash, _ = rest.partition("/")
    return head, dataset if slash and dataset else None


def curated_dataset_prefix(dataset: str) -> str:
    return zone_prefix(CURATED, dataset)


def partition_segment(value: str, column: str = DEFAULT_PARTITION_COLUMN) -> str:
    """The Hive-style key segment of one partition, ``<column>=<value>``; ``column`` is the contract's
    ``partitioning.column`` (``dt`` unless a contract names another)."""
    return f"{column}={value}"


def partition_value(key: str, column: str = DEFAULT_PARTITION_COLUMN) -> str | None:
    """The value of a key's first ``<column>=<value>/`` folder, the inverse of :func:`partition_segment`;
    None when it has none."""
    marker = partition_segment("", column)
    for part in key.split("/")[:-1]:
        if part.startswith(marker) and len(part) > len(marker):
            return part[len(marker) :]
    return None


def curated_partition_prefix(dataset: str, dt: str, *, column: str = DEFAULT_PARTITION_COLUMN) -> str:
    """Every version of one partition: ``curated/<dataset>/<column>=<dt>/``."""
    return zone_partition_prefix(CURATED, dataset, dt, column)


def curated_version_prefix(
    dataset: str, dt: str, version: str, *, column: str = DEFAULT_PARTITION_COLUMN
) -> str:
    """One immutable version of a partition; the catalog points the partition at exactly one of them."""
    return f"{curated_partition_prefix(dataset, dt, column=column)}v={version}/"


def analytics_prefix(view: str) -> str:
    """A materialised view's table: ``analytics/<view>/`` (its partitions' versions below it)."""
    return zone_prefix(ANALYTICS, view)


def analytics_version_prefix(view: str, ds: str, version: str) -> str:
    """One immutable version of a view's day: ``analytics/<view>/dt=<ds>/v=<version>/``."""
    return f"{zone_partition_prefix(ANALYTICS, view, ds, DEFAULT_PARTITION_COLUMN)}v={version}/"


def parse_curated_version_prefix(
    prefix: str, partition_column: str = DEFAULT_PARTITION_COLUMN
) -> tuple[str, str, str]:
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


def split_curated_version_key(
    key: str, partition_column: str = DEFAULT_PARTITION_COLUMN
) -> tuple[str, str, str, str, str] | None:
    """A key in a curated version folder -> ``(dataset, value, version, version prefix, name)``, the name
    being what follows the folder (it may hold further ``/``); None for any other key."""
    parts = key.split("/", 4)
    if len(parts) < 5:
        return None
    prefix = "/".join(parts[:4]) + "/"
    try:
        dataset, value, version = parse_curated_version_prefix(prefix, partition_column)
    except ValueError:
        return None
    return dataset, value, version, prefix, parts[4]


def is_version_prefix(prefix: str) -> bool:
    """Whether ``prefix`` is one version folder, ``<zone>/<dataset>/.../v=<version>/`` (curated, analytics):
    the widest thing maintenance may delete at once."""
    return _VERSION_FOLDER.search(prefix) is not None


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


def report_prefix(kind: str, period: str | None = None) -> str:
    """Every report of one kind, ``reports/<kind>/``, or one report's folder, ``reports/<kind>/<period>/``
    (storage: the date; business: ``week=<monday>``)."""
    base = zone_prefix(REPORTS, kind)
    return f"{base}{period}/" if period else base


def report_file_keys(prefix: str) -> tuple[str, str]:
    """A report folder's ``report.json`` (every number) and ``report.html`` (the page)."""
    return f"{prefix}report.json", f"{prefix}report.html"
