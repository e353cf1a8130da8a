"""CatalogOperator: the Glue table of one dataset from its contract, and the partitions a run published."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

from airlake.operators.base import DatasetOperator, argument

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airlake.manifest import CuratedPartition
    from airlake.store import LakeStore


class CatalogOperator(DatasetOperator):
    """
    Bring the Glue Data Catalog in step with one dataset's contract and the partitions a run curated.

    Reads the run's curate manifest (``_manifests/<dataset>/<run_id>/curate.json``), creates the Glue
    database and table or evolves the table (added nullable columns; other schema changes fail naming
    the column, old and new type), checks one written Parquet file's schema against the table, then
    points each partition the run wrote at its new version (created, moved, or left as it is when
    already there). Writes ``_manifests/<dataset>/<run_id>/catalog.json``.

    With ``use_crawler=True`` partitions are left to a Glue crawler over ``curated/<dataset>/``
    (created or updated, then started) instead of explicit registration. moto never finishes a
    crawler: locally set ``wait_for_crawler=False`` (or keep the default, explicit registration).

    The dataset (also the table name) and the lake's arguments (``database`` defaults to
    :data:`airlake.pipeline.GLUE_DATABASE` through the DAGs' ``default_args``; ``kms_key_id`` for the manifest write):
    :class:`~airlake.operators.base.DatasetOperator`.

    :param use_crawler: register partitions with a Glue crawler instead of explicitly.
    :param crawler_role: IAM role of the crawler (required with ``use_crawler``).
    :param crawler_name: name of the crawler; default ``airlake-<database>-<dataset>``.
    :param wait_for_crawler: wait until the crawl finishes.
    :param crawler_poll_interval: seconds between two checks of the crawler's state.
    """

    aws_hook_class = GlueCatalogHook
    template_fields: Sequence[str] = (*DatasetOperator.template_fields, "crawler_role", "crawler_name")
    ui_color = "#e8dcff"

    use_crawler: bool = argument(False)
    crawler_role: str | None = argument(None)
    crawler_name: str | None = argument(None)
    wait_for_crawler: bool = argument(True)
    crawler_poll_interval: int = argument(15)

    def execute(self, context: Context) -> dict[str, Any]:
        from airlake.catalog import ensure_database, ensure_table, get_table, publish_partitions
        from airlake.contracts import get_contract
        from airlake.lake import manifest_key
        from airlake.lineage import catalog_lineage, region_of
        from airlake.manifest import CURATE, CurateRecord, Manifest, read_record

        contract = get_contract(self.dataset)
        run_id = context["run_id"]
        store = self.lake_store()
        curate_key = manifest_key(self.dataset, run_id, CURATE)
        curated = read_record(store, self.dataset, run_id, CurateRecord)
        if curated is None:
            raise FileNotFoundError(
                f"no curate manifest s3://{self.bucket}/{curate_key}: the curate task of run {run_id} "
                "must succeed before the catalog task"
            )
        if not curated.complete:
            raise ValueError(f"curate manifest {curate_key} has status {curated.status!r}, not 'complete'")
        partitions = curated.partitions

        glue = self.glue_client()
        ensure_database(glue, self.database)
        change = ensure_table(glue, self.database, contract, self.bucket)
        table = get_table(glue, self.database, contract.name)
        if table is None:
            raise RuntimeError(f"Glue table {self.database}.{contract.name} vanished after it was ensured")
        checked = self._check_one_file(store, partitions, table, contract.partition_column)

        crawler: str | None = None
        published: dict[str, Any] = {"created": [], "updated": [], "unchanged": []}
        if self.use_crawler:
            crawler = self._run_crawler(contract)
        else:
            published = publish_partitions(
                glue,
                self.database,
                contract.name,
                [p.as_entry() for p in partitions],
                table["StorageDescriptor"],
            )

        manifest = Manifest(dataset=self.dataset, run_id=run_id, stage="catalog")
        manifest.inputs.append({"key": curate_key})
        manifest.outputs.extend(
            [
                {"dt": dt, "location": _location_of(partitions, dt), "action": "created"}
                for dt in published["created"]
            ]
            + [{**moved, "action": "updated"} for moved in published["updated"]]
        )
        manifest.extra.update(
            {
                "database": self.database,
                "table": contract.name,
                "table_change": change.as_dict(),
                "schema_checked_file": checked,
                "partitions": published,
                "crawler": crawler,
            }
        )
        manifest_written = manifest.write(store)
        self._lineage = catalog_lineage(
            self.bucket, self.database, contract.name, partitions, published, region=region_of(self.hook)
        )
        changed = sorted({*published["created"], *(moved["dt"] for moved in published["updated"])})
        if self.outlets:
            # consumers (views) rebuild exactly the days this run changed: the partitions, and for a
            # view whose day is a date column (fx_rates' rate_date), the days that column holds in them
            extra = {"dataset": self.dataset, "partitions": changed}
            dates = self._date_ranges(store, [p for p in partitions if p.dt in extra["partitions"]], contract)
            if dates:
                extra["dates"] = dates
            for outlet in self.outlets:
                context["outlet_events"][outlet].extra = extra
        self.log.info(
            "Catalogued %s.%s (%s): %d partition(s) created, %d updated, %d unchanged; manifest %s",
            self.database,
            contract.name,
            change.action,
            len(published["created"]),
            len(published["updated"]),
            len(published["unchanged"]),
            manifest_written,
        )
        return {
            "database": self.database,
            "table": contract.name,
            "table_change": change.action,
            "created": len(published["created"]),
            "updated": len(published["updated"]),
            "unchanged": len(published["unchanged"]),
            "crawler": crawler,
        }

    def _check_one_file(
        self,
        store: LakeStore,
        partitions: Sequence[CuratedPartition],
        table: dict[str, Any],
        partition_column: str,
    ) -> str | None:
        """Check the first written file of the run against the table; its s3:// URI, None without files."""
        from airlake.catalog import check_parquet_schema, read_parquet_schema
        from airlake.lake import s3_uri

        for partition in partitions:
            for key in partition.files:
                bucket = _bucket_of(partition.location, self.bucket)
                uri = s3_uri(bucket, key)
                schema = read_parquet_schema(store.client, bucket, key)
                check_parquet_schema(
                    schema, table["StorageDescriptor"]["Columns"], file=uri, ignore=[partition_column]
                )
                self.log.info("Parquet schema of %s matches the Glue table", uri)
                return uri
        return None

    def _date_ranges(
        self, store: LakeStore, partitions: Sequence[CuratedPartition], contract: Any
    ) -> dict[str, list[list[str]]]:
        """Per date column of the contract, the [first, last] days of each changed file's values (footer
        statistics, one ranged GET a file); a column is left out when a file has no statistics for it."""
        from airlake.catalog import date_ranges, read_parquet_metadata

        columns = [
            c.name for c in contract.columns if c.type == "date" and c.name != contract.partition_column
        ]
        if not columns:
            return {}
        ranges: dict[str, list[list[str]]] = {name: [] for name in columns}
        for partition in partitions:
            bucket = _bucket_of(partition.location, self.bucket)
            for key in partition.files:
                found = date_ranges(read_parquet_metadata(store.client, bucket, key), columns)
                for name in list(ranges):
                    if name in found:
                        ranges[name].append(list(found[name]))
                    elif partition.rows:
                        self.log.warning(
                            "s3://%s/%s: no statistics (or only nulls) for %s: its events name partitions only",
                            bucket,
                            key,
                            name,
                        )
                        del ranges[name]
        return {name: sorted(map(list, {tuple(r) for r in spans})) for name, spans in ranges.items() if spans}

    def _run_crawler(self, contract: Any) -> str:
        """Create or update the dataset's crawler, start it, and wait when asked; its name."""
        from airflow.providers.amazon.aws.hooks.glue_crawler import GlueCrawlerHook
        from botocore.exceptions import ClientError

        from airlake.aws import configure
        from airlake.catalog import crawler_config

        if not self.crawler_role:
            raise ValueError("use_crawler=True needs crawler_role (the IAM role the crawler runs as)")
        name = self.crawler_name or f"airlake-{self.database}-{contract.name}"
        config = crawler_config(contract, self.bucket, self.database, name=name, role=self.crawler_role)
        hook = configure(GlueCrawlerHook(**self._hook_parameters))
        try:
            if hook.has_crawler(name):
                hook.update_crawler(**config)
            else:
                hook.create_crawler(**config)
            hook.start_crawler(name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "CrawlerRunningException":
                raise
            self.log.warning("Crawler %s is already running: using the current crawl", name)
        if self.wait_for_crawler:
            hook.wait_for_crawler_completion(crawler_name=name, poll_interval=self.crawler_poll_interval)
        return name


def _bucket_of(location: str | None, default: str) -> str:
    from airlake.lake import split_s3_uri

    try:
        return split_s3_uri(location or "")[0]
    except ValueError:
        return default


def _location_of(partitions: Sequence[CuratedPartition], dt: str) -> str | None:
    return next((p.location or None for p in partitions if p.dt == dt), None)
