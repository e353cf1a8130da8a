"""The Athena SQL curate engine: Glue raw table, CTAS, one UNLOAD per partition (:mod:`airlake.curate.sqlrun`)."""

from __future__ import annotations

import gzip
import json
import logging
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlake.curate.errors import CurateError
from airlake.curate.parts import RejectWriter
from airlake.curate.record import RawInput
from airlake.curate.versions import (
    split_location,
)
from airlake.lake import curated_version_prefix, s3_uri
from airlake.sql_text import quote_identifier

if TYPE_CHECKING:
    from airlake.contracts import Contract
    from airlake.engines.athena import AthenaEngine
    from airlake.manifest import RawPart
    from airlake.store import LakeStore

from airlake.curate.sqlrun.local import _literal
from airlake.curate.sqlrun.run import PartitionOutput, SqlCurateEngine, _reject

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------------
# AWS: Athena
# --------------------------------------------------------------------------------------------------


class AthenaSqlCurate(SqlCurateEngine):
    """
    The curate SQL on Athena (engine v3): per run, a Glue external table over the raw run prefixes (one
    partition each, read as whole lines by RegexSerDe), a view adding ``"$path"`` as ``source``, a CTAS
    of the curated rows under the scratch prefix, one ``UNLOAD`` (zstd Parquet) per partition into its
    new version prefix, and the rejects ``UNLOAD`` as gzip JSON, read back into the quarantine file.
    The live rows are the dataset's Glue table itself (its partitions point at the live versions).

    Each query's id is kept (:attr:`query_ids`, in the manifest) and :meth:`on_kill` stops the running
    one; :meth:`close` drops the run's tables and scratch objects.

    :param athena: an :class:`~airlake.engines.athena.AthenaEngine` (hook, workgroup, output location).
    :param database: the Glue database of the dataset's table (the run's tables are created beside it).
    :param scratch: ``s3://...`` prefix for the CTAS files and the rejects (default: under the output
        location).
    """

    name = "athena"

    def __init__(self, athena: AthenaEngine, database: str, *, scratch: str | None = None) -> None:
        self.athena = athena
        self.database = database
        token = uuid.uuid4().hex[:12]
        base = scratch or athena.output_location
        self.scratch = base.rstrip("/") + f"/airlake-curate/{token}/"
        self.raw_table = f"_curate_raw_{token}"
        self.lines_view = f"_curate_lines_{token}"
        self.raw_relation = f"{database}.{self.lines_view}"
        self.result_table = f"_curate_out_{token}"
        self.query_ids = []
        self._created: list[str] = []
        self._live: str | None = None
        self._contract: Contract | None = None

    def _query(self, sql: str) -> str:
        query_id = self.athena.submit(sql)
        self.query_ids.append(query_id)
        self.athena.wait(query_id)
        return query_id

    def _name(self, table: str) -> str:
        return quote_identifier(f"{self.database}.{table}")

    def load_raw(self, store: LakeStore, parts: list[RawPart]) -> list[RawInput]:
        prefixes: dict[str, str] = {}
        sizes = []
        for part in parts:
            size = int(store.head(part.key).get("ContentLength", 0))
            if part.bytes is not None and part.bytes != size:
                raise CurateError(f"raw part s3://{store.bucket}/{part.key} changed since it was ingested")
            sizes.append(size)
            prefixes.setdefault(part.raw_run, part.key.rsplit("/", 1)[0] + "/")
        table = f"`{self.database}`.`{self.raw_table}`"
        self._query(
            f"CREATE EXTERNAL TABLE {table} (line string) PARTITIONED BY (raw_part int) "
            "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.RegexSerDe' "
            "WITH SERDEPROPERTIES ('input.regex' = '^(.*)$') STORED AS TEXTFILE "
            f"LOCATION '{s3_uri(store.bucket, '')}'"
        )
        self._created.append(self.raw_table)
        added = ", ".join(
            f"PARTITION (raw_part = {index}) LOCATION '{s3_uri(store.bucket, prefix)}'"
            for index, prefix in enumerate(prefixes.values())
        )
        self._query(f"ALTER TABLE {table} ADD {added}")
        self._query(
            f'CREATE OR REPLACE VIEW {self._name(self.lines_view)} AS SELECT line, 0 AS seq, "$path" AS source, '
            f"CAST(NULL AS bigint) AS line_number FROM {self._name(self.raw_table)}"
        )
        self._created.append(self.lines_view)
        counted = {
            str(path): int(n)
            for path, n in self.rows(
                f"SELECT source, count(*) FROM {self._name(self.lines_view)} WHERE trim(line) <> '' GROUP BY source"
            )
        }
        return [
            RawInput(part, size, part.sha256, rows=counted.get(s3_uri(store.bucket, part.key), 0))
            for part, size in zip(parts, sizes, strict=True)
        ]

    def load_live(self, store: LakeStore, contract: Contract, locations: dict[str, str]) -> str | None:
        return f"{self.database}.{contract.name}" if locations else None

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        table = self.athena.fetch(self._query(sql))
        return [tuple(row.values()) for row in table.to_pylist()]

    def write_rejects(self, sql: str, writer: RejectWriter) -> None:
        target = self.scratch + "rejects/"
        self._query(f"UNLOAD ({sql}) TO '{target}' WITH (format = 'JSON', compression = 'GZIP')")
        bucket, prefix = split_location(target)
        s3 = self.athena.s3
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in sorted(page.get("Contents", []), key=lambda obj: obj["Key"]):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                for line in gzip.decompress(body).splitlines():
                    if line.strip():
                        writer.add(*_reject(json.loads(line)))

    def write_partitions(
        self, store: LakeStore, contract: Contract, sql: str, dts: list[str], version: str, work_dir: Path
    ) -> list[PartitionOutput]:
        result = self._name(self.result_table)
        self._query(
            f"CREATE TABLE {result} WITH (format = 'PARQUET', write_compression = 'ZSTD', "
            f"external_location = '{self.scratch}curated/') AS {sql}"
        )
        self._created.append(self.result_table)
        part = quote_identifier(contract.partition_column)
        kept = {
            str(dt): (int(new), int(old))
            for dt, new, old in self.rows(
                f"SELECT {part}, count_if(_src = 1), count_if(_src = 0) FROM {result} GROUP BY {part}"
            )
        }
        names = ", ".join(quote_identifier(c) for c in contract.column_names)
        keys = ", ".join(quote_identifier(k) for k in contract.dedup.keys)
        outputs = []
        for dt in dts:
            prefix = curated_version_prefix(contract.name, dt, version, column=contract.partition_column)
            self._query(
                f"UNLOAD (SELECT {names} FROM {result} WHERE {part} = {_literal(dt)} ORDER BY {keys}) "
                f"TO '{s3_uri(store.bucket, prefix)}' WITH (format = 'PARQUET', compression = 'ZSTD')"
            )
            objects = [
                {"key": obj.key, "rows": None, "bytes": obj.size}
                for obj in sorted(store.list(prefix), key=lambda o: o.key)
            ]
            new, old = kept.get(dt, (0, 0))
            outputs.append(PartitionOutput(dt, new, old, objects=objects))
        return outputs

    def on_kill(self) -> None:
        self.athena.on_kill()

    def close(self) -> None:
        for table in reversed(self._created):
            # DROP VIEW is Trino SQL (double quotes), DROP TABLE Hive DDL (backticks)
            statement = (
                f"DROP VIEW IF EXISTS {self._name(table)}"
                if table == self.lines_view
                else f"DROP TABLE IF EXISTS `{self.database}`.`{table}`"
            )
            try:
                self._query(statement)
            except Exception:  # cleanup must not hide the run's outcome
                log.exception("Could not drop %s.%s", self.database, table)
        try:
            bucket, prefix = split_location(self.scratch)
            s3 = self.athena.s3
            keys = [
                item["Key"]
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                for item in page.get("Contents", [])
            ]
            for start in range(0, len(keys), 1000):
                s3.delete_objects(
                    Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys[start : start + 1000]]}
                )
        except Exception:
            log.exception("Could not remove the scratch objects under %s", self.scratch)
