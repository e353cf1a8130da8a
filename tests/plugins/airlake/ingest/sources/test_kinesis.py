from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from airlake.ingest.lines import one_line
from airlake.ingest.runner import run_ingest
from airlake.ingest.sources.kinesis import KinesisSource, order_shards
from airlake.lake import manifest_key, raw_run_prefix, state_key

REGION = "us-east-1"
DAY = date(2026, 11, 20)  # the ingest_date of ctx_for (conftest)
STREAM = "clickstream"
SHARD_0, SHARD_1 = "shardId-000000000000", "shardId-000000000001"
HASH_KEY = {SHARD_0: "0", SHARD_1: str(2**127 + 1)}  # explicit hash keys routing to each of 2 shards

# (payload put on the stream, line expected in the raw zone)
RECORDS: list[tuple[bytes, bytes]] = [
    (b'{"event":"click","n":1}', b'{"event":"click","n":1}'),
    (b'{\n  "event": "view",\n  "n": 2.50\n}\n', b'{"event":"view","n":2.50}'),
    (b"not json at all", b"not json at all"),
    (b'{"broken": ', b'{"broken": '),
    (b"line one\nline two", b'"line one\\nline two"'),
    (b"\xff\xfe\x00 binary", b"\xff\xfe\x00 binary"),
    (
        b'{"text": "caf\xc3\xa9 \\n kept", "list": [1, 2]}\r\n',
        b'{"text":"caf\xc3\xa9 \\n kept","list":[1,2]}',
    ),
]


@pytest.fixture
def kinesis(aws: None) -> Any:
    client = boto3.client("kinesis", region_name=REGION)
    client.create_stream(StreamName=STREAM, ShardCount=2)
    return client


def put(client: Any, shard_id: str, payloads: list[bytes]) -> list[str]:
    sequences = []
    for payload in payloads:
        response = client.put_record(
            StreamName=STREAM, Data=payload, PartitionKey="pk", ExplicitHashKey=HASH_KEY[shard_id]
        )
        assert response["ShardId"] == shard_id
        sequences.append(response["SequenceNumber"])
    return sequences


def source(client: Any, **kwargs: Any) -> KinesisSource:
    options: dict[str, Any] = {"max_records_per_call": 3, "max_batch_records": 2} | kwargs
    return KinesisSource(client=client, stream_name=STREAM, **options)


def test_every_record_of_both_shards_lands_once_encrypted_with_a_cumulative_checkpoint(
    kinesis: Any, s3_lake: Any, ctx_for: Callable[..., Any], landed: Any, assert_encrypted: Any
) -> None:
    seq_0 = put(kinesis, SHARD_0, [payload for payload, _ in RECORDS[0::2]])
    seq_1 = put(kinesis, SHARD_1, [payload for payload, _ in RECORDS[1::2]])

    summary = run_ingest(source(kinesis), s3_lake, ctx_for("run-1"), max_part_bytes=60)

    expected = [line for _, line in RECORDS[0::2]] + [line for _, line in RECORDS[1::2]]
    assert landed(s3_lake, summary["parts"]) == expected
    assert summary["rows"] == len(RECORDS) and len(summary["parts"]) > 1
    assert_encrypted(s3_lake, summary["parts"])
    assert [o.key for o in s3_lake.list(raw_run_prefix("events", DAY, "run-1"))] == summary["parts"]

    manifest = s3_lake.get_json(summary["manifest"])
    assert manifest["rows"] == {"read": len(RECORDS), "landed": len(RECORDS)}
    assert manifest["source"] == {"kind": "kinesis", "stream": STREAM}
    assert [(i["shard"], i["from_sequence"], i["to_sequence"], i["rows"]) for i in manifest["inputs"]] == [
        (SHARD_0, seq_0[0], seq_0[1], 2),
        (SHARD_0, seq_0[2], seq_0[3], 2),
        (SHARD_1, seq_1[0], seq_1[1], 2),
        (SHARD_1, seq_1[2], seq_1[2], 1),
    ]
    checkpoint = {"shards": {SHARD_0: seq_0[-1], SHARD_1: seq_1[-1]}}
    assert manifest["checkpoint_before"] is None and manifest["checkpoint_after"] == checkpoint
    assert s3_lake.get_json(state_key("events", "ingest"))["checkpoint"] == checkpoint


def test_a_rerun_lands_nothing_twice_and_a_new_run_lands_only_new_records(
    kinesis: Any, s3_lake: Any, ctx_for: Callable[..., Any], landed: Any
) -> None:
    put(kinesis, SHARD_0, [b'{"n":1}', b'{"n":2}'])
    put(kinesis, SHARD_1, [b'{"n":3}'])
    first = run_ingest(source(kinesis), s3_lake, ctx_for("run-1"))
    uploads = list(s3_lake.puts)

    rerun = run_ingest(source(kinesis), s3_lake, ctx_for("run-1"))
    assert rerun["skipped"] and rerun["parts"] == first["parts"] and s3_lake.puts == uploads

    new_0 = put(kinesis, SHARD_0, [b'{"n":4}'])
    new_1 = put(kinesis, SHARD_1, [b'{"n":5}', b'{"n":6}'])
    second = run_ingest(source(kinesis), s3_lake, ctx_for("run-2"))

    assert landed(s3_lake, first["parts"]) == [b'{"n":1}', b'{"n":2}', b'{"n":3}']
    assert landed(s3_lake, second["parts"]) == [b'{"n":4}', b'{"n":5}', b'{"n":6}']
    state = s3_lake.get_json(state_key("events", "ingest"))
    assert state["run_id"] == "run-2"
    assert state["checkpoint"] == {"shards": {SHARD_0: new_0[-1], SHARD_1: new_1[-1]}}

    third = run_ingest(source(kinesis), s3_lake, ctx_for("run-3"))
    assert third["rows"] == 0 and third["parts"] == []
    assert s3_lake.get_json(state_key("events", "ingest"))["checkpoint"] == state["checkpoint"]


def test_a_failed_run_keeps_the_checkpoint_and_its_retry_lands_the_same_parts_exactly_once(
    kinesis: Any,
    make_store: Callable[..., Any],
    ctx_for: Callable[..., Any],
    landed: Any,
) -> None:
    store = make_store()
    put(kinesis, SHARD_0, [b'{"n":0}'])
    run_ingest(source(kinesis), store, ctx_for("run-1"))
    before = store.get_json(state_key("events", "ingest"))["checkpoint"]
    payloads = [json.dumps({"n": n, "pad": "x" * 20}).encode() for n in range(1, 9)]
    put(kinesis, SHARD_0, payloads[:4])
    put(kinesis, SHARD_1, payloads[4:])

    failing = make_store(fail_on_put=2)
    with pytest.raises(OSError, match="injected failure"):
        run_ingest(source(kinesis), failing, ctx_for("run-2"), max_part_bytes=70)

    assert failing.puts[1].startswith("FAILED:")
    assert store.get_json(state_key("events", "ingest"))["checkpoint"] == before
    assert not store.exists(manifest_key("events", "run-2", "ingest"))
    first_part = failing.puts[0]
    partial = store.client.get_object(Bucket=store.bucket, Key=first_part)["Body"].read()

    retry = make_store()
    summary = run_ingest(source(kinesis), retry, ctx_for("run-2"), max_part_bytes=70)

    assert landed(retry, summary["parts"]) == payloads
    assert summary["parts"][0] == first_part
    assert retry.client.get_object(Bucket=retry.bucket, Key=first_part)["Body"].read() == partial
    assert [o.key for o in retry.list(raw_run_prefix("events", DAY, "run-2"))] == summary["parts"]
    manifest = retry.get_json(summary["manifest"])
    assert manifest["checkpoint_before"] == before
    assert manifest["rows"] == {"read": 8, "landed": 8}


def test_max_run_records_bounds_a_run_and_the_next_run_continues_where_it_stopped(
    kinesis: Any, s3_lake: Any, ctx_for: Callable[..., Any], landed: Any
) -> None:
    seq_0 = put(kinesis, SHARD_0, [f'{{"n":{n}}}'.encode() for n in range(5)])
    put(kinesis, SHARD_1, [f'{{"n":{n}}}'.encode() for n in range(5, 8)])

    first = run_ingest(source(kinesis, max_run_records=4), s3_lake, ctx_for("run-1"))
    assert first["rows"] == 4
    assert s3_lake.get_json(state_key("events", "ingest"))["checkpoint"] == {"shards": {SHARD_0: seq_0[3]}}

    second = run_ingest(source(kinesis), s3_lake, ctx_for("run-2"))
    lines = landed(s3_lake, first["parts"]) + landed(s3_lake, second["parts"])
    assert lines == [f'{{"n":{n}}}'.encode() for n in range(8)]


def test_a_shard_closed_by_a_split_is_read_to_its_end_once_then_skipped(
    aws: None, s3_lake: Any, ctx_for: Callable[..., Any], landed: Any
) -> None:
    # moto keeps a split parent's records (and routes later writes to it), so the children stay empty
    # here; FakeKinesis below covers parents-before-children with Kinesis' own semantics.
    client = boto3.client("kinesis", region_name=REGION)
    client.create_stream(StreamName=STREAM, ShardCount=1)
    sequences = [
        client.put_record(StreamName=STREAM, Data=f"r{n}".encode(), PartitionKey=f"k{n}")["SequenceNumber"]
        for n in range(3)
    ]
    client.split_shard(StreamName=STREAM, ShardToSplit=SHARD_0, NewStartingHashKey=str(2**127))
    shards = client.list_shards(StreamName=STREAM)["Shards"]
    assert len(shards) == 3 and shards[0]["SequenceNumberRange"]["EndingSequenceNumber"] == sequences[-1]

    summary = run_ingest(KinesisSource(client=client, stream_name=STREAM), s3_lake, ctx_for("run-1"))
    again = run_ingest(KinesisSource(client=client, stream_name=STREAM), s3_lake, ctx_for("run-2"))

    assert landed(s3_lake, summary["parts"]) == [b"r0", b"r1", b"r2"]
    assert again["rows"] == 0
    assert s3_lake.get_json(state_key("events", "ingest"))["checkpoint"] == {
        "shards": {SHARD_0: sequences[-1]}
    }


class FakeKinesis:
    """Real Kinesis semantics moto lacks: closed shards keep their records and end with no next iterator.

    Shards are listed children first, one per page; ``fail`` injects one error on a GetRecords call.
    """

    def __init__(self, *, fail: str | None = None) -> None:
        self.shards: dict[str, dict[str, Any]] = {
            "shardId-3": {"records": [b"c1", b"c2"], "parent": "shardId-1", "adjacent": "shardId-2"},
            "shardId-1": {"records": [b"p1", b"p2", b"p3"], "closed": True},
            "shardId-2": {"records": [b"q1"], "closed": True},
        }
        self.fail = fail
        self.calls = 0

    def list_shards(self, **request: Any) -> dict[str, Any]:
        assert not ("NextToken" in request and "StreamName" in request)
        index = int(request.get("NextToken", 0))
        shard_id = list(self.shards)[index]
        shard = self.shards[shard_id]
        described: dict[str, Any] = {
            "ShardId": shard_id,
            "SequenceNumberRange": {"StartingSequenceNumber": "1"},
        }
        if shard.get("closed"):
            described["SequenceNumberRange"]["EndingSequenceNumber"] = str(len(shard["records"]))
        if "parent" in shard:
            described |= {"ParentShardId": shard["parent"], "AdjacentParentShardId": shard["adjacent"]}
        more = index + 1 < len(self.shards)
        return {"Shards": [described]} | ({"NextToken": str(index + 1)} if more else {})

    def get_shard_iterator(self, **request: Any) -> dict[str, Any]:
        after = int(request.get("StartingSequenceNumber", 0))
        return {"ShardIterator": f"{request['ShardId']}|{after}"}

    def get_records(self, *, ShardIterator: str, Limit: int) -> dict[str, Any]:
        self.calls += 1
        if self.calls == 2 and self.fail:
            self.fail, code = None, self.fail
            raise ClientError({"Error": {"Code": code, "Message": code}}, "GetRecords")
        shard_id, after = ShardIterator.split("|")
        shard = self.shards[shard_id]
        start = int(after)
        chunk = shard["records"][start : start + Limit]
        records = [{"SequenceNumber": str(start + i + 1), "Data": data} for i, data in enumerate(chunk)]
        end = start + len(chunk)
        at_end = end == len(shard["records"])
        next_iterator = None if shard.get("closed") and at_end and not chunk else f"{shard_id}|{end}"
        # Like Kinesis, a closed shard ends with a null iterator, not with MillisBehindLatest 0.
        behind = 0 if at_end and not shard.get("closed") else 5
        return {"Records": records, "NextShardIterator": next_iterator, "MillisBehindLatest": behind}


@pytest.mark.parametrize(
    "fail",
    [
        pytest.param(None, id="plain"),
        pytest.param("ExpiredIteratorException", id="expired-iterator-renewed"),
        pytest.param("ProvisionedThroughputExceededException", id="throttled-then-retried"),
    ],
)
def test_parents_are_drained_before_children_and_transient_errors_lose_nothing(
    fail: str | None, s3_lake: Any, ctx_for: Callable[..., Any], landed: Any
) -> None:
    client = FakeKinesis(fail=fail)
    kinesis_source = KinesisSource(
        client=client, stream_name=STREAM, max_records_per_call=2, throttle_backoff_seconds=0.0
    )
    summary = run_ingest(kinesis_source, s3_lake, ctx_for("run-1"))

    assert landed(s3_lake, summary["parts"]) == [b"p1", b"p2", b"p3", b"q1", b"c1", b"c2"]
    checkpoint = {"shards": {"shardId-1": "3", "shardId-2": "1", "shardId-3": "2"}}
    assert s3_lake.get_json(state_key("events", "ingest"))["checkpoint"] == checkpoint

    client.shards["shardId-3"]["records"].append(b"c3")
    again = run_ingest(kinesis_source, s3_lake, ctx_for("run-2"))
    assert landed(s3_lake, again["parts"]) == [b"c3"]


@pytest.mark.parametrize(
    ("listed", "expected"),
    [
        pytest.param(["a", "b"], ["a", "b"], id="independent-shards-in-id-order"),
        pytest.param(["c<a", "b<a", "a"], ["a", "b", "c"], id="split-children-after-parent"),
        pytest.param(["m<a+b", "b", "a"], ["a", "b", "m"], id="merged-child-after-both-parents"),
        pytest.param(["b<gone", "a"], ["a", "b"], id="expired-parent-ignored"),
        pytest.param(["d<c", "c<a", "a", "b"], ["a", "b", "c", "d"], id="grandchildren-last"),
    ],
)
def test_order_shards(listed: list[str], expected: list[str]) -> None:
    shards = []
    for spec in listed:
        shard_id, _, parents = spec.partition("<")
        shard: dict[str, Any] = {"ShardId": shard_id}
        names = parents.split("+") if parents else []
        if names:
            shard["ParentShardId"] = names[0]
        if len(names) > 1:
            shard["AdjacentParentShardId"] = names[1]
        shards.append(shard)
    assert [shard["ShardId"] for shard in order_shards(shards)] == expected


@pytest.mark.parametrize(
    ("payload", "line"), [pytest.param(p, line, id=f"record-{i}") for i, (p, line) in enumerate(RECORDS)]
)
def test_one_line_keeps_one_record_on_one_line(payload: bytes, line: bytes) -> None:
    assert one_line(payload) == line
    assert b"\n" not in line and b"\r" not in line and line


@pytest.mark.parametrize(
    ("payload", "line"),
    [
        pytest.param(b"", b'""', id="empty-payload-is-not-a-blank-line"),
        pytest.param(b"\xff\n\xfe", b'"\\udcff\\n\\udcfe"', id="binary-with-newline-kept-losslessly"),
        pytest.param(b"[1,\n 2.0e3]", b"[1,2.0e3]", id="number-spelling-kept"),
        pytest.param(b'{"a":\n"x y"}', b'{"a":"x y"}', id="spaces-in-strings-kept"),
        pytest.param(b'{"a":"\n"}', b'"{\\"a\\":\\"\\n\\"}"', id="raw-newline-in-string-is-not-json"),
    ],
)
def test_one_line_edge_cases(payload: bytes, line: bytes) -> None:
    assert one_line(payload) == line
    if payload.startswith(b"\xff"):
        assert json.loads(line).encode("utf-8", errors="surrogateescape") == payload


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"stream_name": ""}, id="empty-stream"),
        pytest.param({"max_records_per_call": 10_001}, id="call-limit-above-api-max"),
        pytest.param({"max_batch_records": 0}, id="zero-batch"),
        pytest.param({"max_run_records": 0}, id="zero-run"),
    ],
)
def test_invalid_arguments_fail_early(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        KinesisSource(client=object(), **({"stream_name": STREAM} | kwargs))
