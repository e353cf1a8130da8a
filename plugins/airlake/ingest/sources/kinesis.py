"""Kinesis Data Streams: drain every shard from its checkpoint, parent shards before their children.

The checkpoint is ``{"shards": {shard_id: last_sequence_number}}``, cumulative over the run's batches.
The runner saves it only after the parts and the manifest are in S3, so a failed run leaves it where it
was and the retry re-reads the same records, in the same order, into the same part names.

Each record becomes one line. Payloads are landed unchanged, except that a payload holding a line break
(which would otherwise split one record over two lines) is made single-line: valid JSON loses its
insignificant whitespace, anything else is landed as a JSON string. See :func:`airlake.ingest.lines.one_line`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from graphlib import TopologicalSorter
from typing import TYPE_CHECKING, Any, ClassVar

from botocore.exceptions import ClientError

from airlake.ingest.base import IngestContext, IngestSource, SourceBatch
from airlake.ingest.lines import one_line

if TYPE_CHECKING:
    from airlake.contracts.model import KinesisSource as KinesisSpec

log = logging.getLogger(__name__)

GET_RECORDS_LIMIT = 10_000  # the API's largest Limit
_THROTTLED = frozenset(
    {"ProvisionedThroughputExceededException", "KMSThrottlingException", "LimitExceededException"}
)


def order_shards(shards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parents (split or merged shards) before their children; ties in shard-id order, deterministic."""
    by_id = {shard["ShardId"]: shard for shard in shards}
    graph = {
        shard_id: [
            parent
            for parent in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId"))
            if parent in by_id
        ]
        for shard_id, shard in by_id.items()
    }
    sorter = TopologicalSorter(graph)
    sorter.prepare()
    ordered: list[dict[str, Any]] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        ordered.extend(by_id[shard_id] for shard_id in ready)
        sorter.done(*ready)
    return ordered


class KinesisSource(IngestSource):
    """Every shard of ``stream_name`` read up to its tip (or ``max_run_records`` for the whole run).

    ``client`` is a boto3 Kinesis client (``KinesisHook(...).get_conn()`` in the operator). Batches hold
    records of one shard, at most ``max_batch_records`` of them.
    """

    kind: ClassVar[str] = "kinesis"

    def __init__(
        self,
        *,
        client: Any,
        stream_name: str,
        max_records_per_call: int = 1000,
        max_batch_records: int = 10_000,
        max_run_records: int | None = None,
        throttle_retries: int = 5,
        throttle_backoff_seconds: float = 0.5,
    ) -> None:
        if not stream_name:
            raise ValueError("stream_name must not be empty")
        if not 1 <= max_records_per_call <= GET_RECORDS_LIMIT:
            raise ValueError(
                f"max_records_per_call must be 1..{GET_RECORDS_LIMIT}, got {max_records_per_call}"
            )
        if max_batch_records < 1:
            raise ValueError(f"max_batch_records must be at least 1, got {max_batch_records}")
        if max_run_records is not None and max_run_records < 1:
            raise ValueError(f"max_run_records must be at least 1 or None, got {max_run_records}")
        self.client = client
        self.stream_name = stream_name
        self.max_records_per_call = max_records_per_call
        self.max_batch_records = max_batch_records
        self.max_run_records = max_run_records
        self.throttle_retries = throttle_retries
        self.throttle_backoff_seconds = throttle_backoff_seconds

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "stream": self.stream_name}

    @classmethod
    def from_spec(cls, spec: KinesisSpec, *, client: Any, max_run_records: int | None) -> KinesisSource:
        """The source a contract's ``source`` (kind ``kinesis``) declares: its fields are this class's
        arguments of the same names."""
        return cls(client=client, max_run_records=max_run_records, **spec.model_dump(exclude={"kind"}))

    def batches(self, ctx: IngestContext, checkpoint: dict[str, Any] | None) -> Iterator[SourceBatch]:
        listed = order_shards(self._list_shards())
        listed_ids = {shard["ShardId"] for shard in listed}
        # Shards past the stream's retention are no longer listed and can never be read again.
        positions: dict[str, str] = {
            shard_id: sequence
            for shard_id, sequence in (checkpoint or {}).get("shards", {}).items()
            if shard_id in listed_ids
        }
        budget = self.max_run_records
        for shard in listed:
            if budget is not None and budget <= 0:
                log.info("Read max_run_records=%d records; the next run continues.", self.max_run_records)
                return
            shard_id = shard["ShardId"]
            after = positions.get(shard_id)
            ending = shard.get("SequenceNumberRange", {}).get("EndingSequenceNumber")
            if after is not None and ending is not None and int(after) >= int(ending):
                continue  # a closed shard read to its end
            for records in self._read_shard(shard_id, after, budget):
                positions[shard_id] = records[-1]["SequenceNumber"]
                if budget is not None:
                    budget -= len(records)
                yield SourceBatch(
                    checkpoint={"shards": dict(positions)},
                    inputs=[
                        {
                            "stream": self.stream_name,
                            "shard": shard_id,
                            "from_sequence": records[0]["SequenceNumber"],
                            "to_sequence": records[-1]["SequenceNumber"],
                            "rows": len(records),
                        }
                    ],
                    lines=[one_line(record["Data"]) for record in records],
                    rows=len(records),
                )

    def _list_shards(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamName": self.stream_name}
        while True:
            response = self.client.list_shards(**request)
            shards.extend(response.get("Shards", []))
            token = response.get("NextToken")
            if not token:
                return shards
            request = {"NextToken": token}  # the API refuses StreamName together with NextToken

    def _iterator(self, shard_id: str, after: str | None) -> str:
        request: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": shard_id}
        if after is None:
            request["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            request |= {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": after}
        return self.client.get_shard_iterator(**request)["ShardIterator"]

    def _read_shard(
        self, shard_id: str, after: str | None, budget: int | None
    ) -> Iterator[list[dict[str, Any]]]:
        """Records after ``after`` in chunks of ``max_batch_records``, until the shard is caught up.

        Caught up: a closed shard returns no next iterator, an open one an empty response at
        MillisBehindLatest 0 (a non-empty response can say 0 while more records follow it).
        """
        iterator: str | None = self._iterator(shard_id, after)
        last_read = after
        pending: list[dict[str, Any]] = []
        read = 0
        while iterator is not None:
            limit = (
                self.max_records_per_call if budget is None else min(self.max_records_per_call, budget - read)
            )
            if limit <= 0:
                break
            try:
                response = self._get_records(iterator, limit)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ExpiredIteratorException":
                    raise
                # Iterators live five minutes; uploading a large part between two batches can outlast one.
                log.info("Shard iterator of %s expired; resuming after %s", shard_id, last_read)
                iterator = self._iterator(shard_id, last_read)
                continue
            records = response.get("Records", [])
            if records:
                pending.extend(records)
                read += len(records)
                last_read = records[-1]["SequenceNumber"]
                while len(pending) >= self.max_batch_records:
                    yield pending[: self.max_batch_records]
                    pending = pending[self.max_batch_records :]
            elif response.get("MillisBehindLatest", 0) == 0:
                break
            iterator = response.get("NextShardIterator")
        if pending:
            yield pending

    def _get_records(self, iterator: str, limit: int) -> dict[str, Any]:
        for attempt in range(self.throttle_retries + 1):
            try:
                return self.client.get_records(ShardIterator=iterator, Limit=limit)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code")
                if code not in _THROTTLED or attempt == self.throttle_retries:
                    raise
                delay = self.throttle_backoff_seconds * 2**attempt
                log.warning(
                    "GetRecords on %s throttled (%s); retrying in %.2fs", self.stream_name, code, delay
                )
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover
