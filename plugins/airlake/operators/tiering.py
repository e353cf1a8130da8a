"""TieringOperator (lifecycle rules + tiering by partition date) and GlacierRestoreOperator."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import conf

from airlake.operators.base import DatasetOperator, SweepOperator, argument, split_names

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airlake.tiering.policy import ZoneDefaults

GIB = 1024**3
MIB = 1024**2


def _run_time(context: Context, today: str | date | None) -> datetime:
    """The run's time objects are aged against: ``today`` when given, else the data interval end."""
    if today:
        from airlake.tiering.objects import to_date

        day = to_date(today)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    moment = context.get("data_interval_end") or context.get("logical_date")
    if moment is None:
        raise ValueError("the run has no data interval or logical date: pass today='YYYY-MM-DD'")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class TieringOperator(SweepOperator):
    """
    Tier the lake bucket by the contracts' ``tiering`` policies with :func:`airlake.tiering.run_tiering`
    (lifecycle rules, moves by partition date, Glue archive flags, tags on superseded versions, a record
    under ``_manifests/_tiering/<run_id>/``); meant for a weekly maintenance DAG (one task per bucket,
    ``max_active_runs=1``), run first with ``dry_run=True`` to review the diff. A policy S3 would refuse
    fails the task without retry, naming the zone/dataset and field. Objects are aged against
    ``today``, by default the run's data interval end, so a rerun does the same and skips what is done::

        TieringOperator(task_id="tier_lake")  # bucket and database from default_args

    The datasets to tier, ``dry_run`` (log and return what would change; write nothing) and the lake's
    arguments (``database``: which curated version is live; archived flags; ``kms_key_id`` for the
    record and for objects stored unencrypted): :class:`~airlake.operators.base.SweepOperator`.

    :param today: the date to age against (``YYYY-MM-DD``); default the data interval end.
    :param zone_defaults: zone-wide settings (:class:`airlake.tiering.ZoneDefaults`).
    :param policy_overrides: ``{"raw/orders" | "curated" | "quarantine" | ...: {field: value}}``.
    :param apply_lifecycle: write the lifecycle configuration.
    :param move_by_partition_date: move objects by partition date.
    :param tag_superseded: tag superseded curated versions for expiry.
    :param superseded_grace: how long a superseded version stays readable (timedelta or hours).
    :param multipart_threshold: bytes above which a move copies in parts (at most 5 GiB).
    :param multipart_part_size: bytes per part (at least 5 MiB).
    :param max_workers: objects moved in parallel.
    """

    template_fields: Sequence[str] = (*SweepOperator.template_fields, "today")
    ui_color = "#d6e9f8"

    today: str | date | None = argument(None)
    zone_defaults: ZoneDefaults | None = argument(None)
    policy_overrides: Mapping[str, Mapping[str, Any]] | None = argument(None)
    apply_lifecycle: bool = argument(True)
    move_by_partition_date: bool = argument(True)
    tag_superseded: bool = argument(True)
    superseded_grace: timedelta | float = argument(timedelta(days=2))
    multipart_threshold: int = argument(5 * GIB)
    multipart_part_size: int = argument(512 * MIB)
    max_workers: int = argument(4)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from airlake.contracts import load_contracts
        from airlake.tiering import TieringPolicyError, build_rule_set, run_tiering
        from airlake.tiering.objects import to_timedelta

        dry_run = self.is_dry_run
        contracts = load_contracts()
        names = split_names(self.datasets) or sorted(contracts)
        unknown = sorted(set(names) - set(contracts))
        if unknown:
            raise AirflowFailException(
                f"no contract for dataset(s) {', '.join(unknown)} (known: {', '.join(sorted(contracts))})"
            )
        try:
            rule_set = build_rule_set(
                [contracts[name] for name in names],
                defaults=self.zone_defaults,
                overrides=self.policy_overrides,
            )
        except TieringPolicyError as exc:
            raise AirflowFailException(str(exc)) from exc
        summary = run_tiering(
            self.lake_store(),
            rule_set,
            glue=self.glue_client(),
            database=self.database,
            now=_run_time(context, self.today),
            run_id=context["run_id"],
            dry_run=dry_run,
            apply_lifecycle_rules=self.apply_lifecycle,
            move_by_partition_date=self.move_by_partition_date,
            tag_superseded=self.tag_superseded,
            superseded_grace=to_timedelta(self.superseded_grace, "hours"),
            multipart_threshold=self.multipart_threshold,
            part_size=self.multipart_part_size,
            max_workers=self.max_workers,
        )
        self.log.info(
            "%sTiering s3://%s for %s: lifecycle %s; %d object(s) (%d bytes) to move, %d moved; record %s",
            "[dry run] " if dry_run else "",
            self.bucket,
            ", ".join(names),
            summary["lifecycle"],
            summary["moves"]["objects"],
            summary["moves"]["bytes"],
            summary["moves"]["moved"],
            summary["record"],
        )
        return summary


class GlacierRestoreOperator(DatasetOperator):
    """
    Make a dataset's archived partitions readable before a backfill or reprocessing reads them: put it
    upstream of the tasks that read the range, e.g.
    ``GlacierRestoreOperator(task_id="restore_raw", dataset="orders", bucket=..., zone="raw",
    first_day="{{ params.start_date }}", last_day="{{ params.end_date }}")``.

    Finds the archived objects (Glacier Flexible Retrieval, Deep Archive) of the partitions from
    ``first_day`` to ``last_day`` (raw: ``ingest_date=``; curated: ``dt=``, live version only),
    requests their restore for ``restore_days`` days, and waits until all are readable: deferred to
    :class:`airlake.triggers.restore.GlacierRestoreTrigger` (no worker slot held for the hours a
    Standard restore takes), or polling every ``poke_interval`` seconds when not deferrable. Then, for
    curated, flags the Glue partitions restored (``airlake.archived=false``,
    ``airlake.restored_until``) so queries read them again until the copies expire. Safe to rerun:
    restores in progress are not requested twice. Nothing archived: returns at once.

    The dataset (the Glue table for curated) and the lake's arguments (``database`` for curated;
    ``kms_key_id`` for the restore record): :class:`~airlake.operators.base.DatasetOperator`.

    :param first_day: first partition date (``YYYY-MM-DD``).
    :param last_day: last partition date, inclusive.
    :param zone: ``raw`` or ``curated``.
    :param restore_days: days the restored copies stay readable.
    :param tier: ``Standard`` (hours), ``Bulk`` (cheapest) or ``Expedited`` (minutes; Glacier only).
    :param mark_catalog: flag curated Glue partitions restored once readable.
    :param deferrable: wait in the triggerer; default ``[operators] default_deferrable``.
    :param poke_interval: seconds between two checks.
    :param max_wait: give up after this long (timedelta or seconds).
    """

    template_fields: Sequence[str] = (
        *DatasetOperator.template_fields,
        "first_day",
        "last_day",
        "zone",
        "restore_days",
        "tier",
    )
    ui_color = "#cfe3f0"

    first_day: str | date = argument()
    last_day: str | date = argument()
    zone: str = argument("raw")
    restore_days: int | str = argument(7)
    tier: str = argument("Standard")
    mark_catalog: bool = argument(True)
    deferrable: bool = argument(conf.getboolean("operators", "default_deferrable", fallback=False))
    poke_interval: float = argument(300.0)
    max_wait: timedelta | float = argument(timedelta(hours=48))

    @property
    def _max_wait(self) -> timedelta:
        from airlake.tiering.objects import to_timedelta

        return to_timedelta(self.max_wait)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.providers.common.compat.sdk import AirflowException

        from airlake.aws import lake_client
        from airlake.tiering.objects import to_date
        from airlake.tiering.restore import RestoreTimeout, plan_restores, start_restores, wait_for_restores

        client = lake_client(self.hook)
        start, end = to_date(self.first_day), to_date(self.last_day)
        keys = [
            obj.key
            for obj in plan_restores(
                client,
                self.bucket,
                self.dataset,
                self.zone,
                start,
                end,
                date_key=self._date_key(),
                glue=self._glue(),
                database=self.database,
            )
        ]
        waiting = start_restores(client, self.bucket, keys, days=int(self.restore_days), tier=self.tier)
        if waiting and self.deferrable:
            from airlake.triggers.restore import GlacierRestoreTrigger

            self.defer(
                trigger=GlacierRestoreTrigger(
                    bucket=self.bucket,
                    keys=keys,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                    poke_interval=self.poke_interval,
                ),
                method_name="execute_complete",
                timeout=self._max_wait,
            )
        try:
            wait_for_restores(
                client, self.bucket, waiting, poke_interval=self.poke_interval, max_wait=self._max_wait
            )
        except RestoreTimeout as exc:
            raise AirflowException(str(exc)) from exc
        return self._finish(context, keys)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        from airflow.providers.common.compat.sdk import AirflowException

        if not event or event.get("status") != "success":
            message = (event or {}).get("message", "no event")
            raise AirflowException(
                f"restore of {self.zone}/{self.dataset} in s3://{self.bucket} failed: {message}"
            )
        return self._finish(context, list(event.get("keys") or []))

    def _glue(self) -> Any:
        """A Glue client where the zone's partitions are catalogued (curated), else None."""
        return self.glue_client() if self.zone == "curated" else None

    def _date_key(self) -> str | None:
        """The partition key of the zone's object keys: curated ones carry the contract's partition column
        (None for an unknown zone, which :func:`~airlake.tiering.restore.plan_restores` refuses by name)."""
        from airlake.tiering.restore import ZONE_DATE_KEYS

        if self.zone == "curated":
            from airlake.contracts import get_contract

            return get_contract(self.dataset).partition_column
        return ZONE_DATE_KEYS.get(self.zone)

    def _finish(self, context: Context, keys: list[str]) -> dict[str, Any]:
        """Every object readable: :func:`~airlake.tiering.restore.finish_restore` flags and records."""
        from airlake.tiering.restore import ZONE_DATE_KEYS, finish_restore

        return finish_restore(
            self.lake_store(),
            keys,
            dataset=self.dataset,
            zone=self.zone,
            first_day=str(self.first_day),
            last_day=str(self.last_day),
            run_id=context["run_id"],
            date_key=self._date_key() or ZONE_DATE_KEYS[self.zone],
            tier=self.tier,
            days=self.restore_days,
            glue=self._glue() if self.mark_catalog else None,
            database=self.database,
            mark_catalog=self.mark_catalog,
        )
