"""Shim 17: DynamoDB stream mappings are polled like Lambda does; the account endpoint is routed."""

from __future__ import annotations

import uuid

import boto3

from payments_core.audit import AuditEvent, AuditWriter
from payments_core.audit_reader import AuditReader
from payments_core.clock import parse_iso


def _append(stack, day: str) -> None:
    writer = AuditWriter(stack.outputs["AuditTableName"], dynamodb=boto3.client("dynamodb"))
    event = AuditEvent(str(uuid.uuid4()), "ingest", "received", "payment.received", "ingest", {})
    writer.append(event, at=parse_iso(f"{day}T08:00:00Z"))


def _count(stack, day: str) -> dict[str, int]:
    return AuditReader(stack.outputs["AuditTableName"], dynamodb=boto3.client("dynamodb")).counters(day)


def _counters_poller(stack):
    (poller,) = [p for p in stack.stream_pollers() if p.source.function_logical_id == "AuditCountersFunction"]
    return poller


def test_the_streams_api_answers_on_the_account_endpoint(stack):
    streams = boto3.client("dynamodbstreams")
    arn = boto3.client("dynamodb").describe_table(TableName=stack.outputs["AuditTableName"])["Table"][
        "LatestStreamArn"
    ]

    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]

    assert len(shards) == 1


def test_a_write_invokes_nothing_until_the_poller_runs(stack):
    poller = _counters_poller(stack)
    poller.poll_once()  # whatever earlier tests wrote
    day = "2099-01-0" + str(1 + uuid.uuid4().int % 9)
    before = _count(stack, day).get("payment.received", 0)

    _append(stack, day)
    assert _count(stack, day).get("payment.received", 0) == before

    result = poller.poll_once()
    assert result.invoked == 1 and result.failed_batches == 0
    assert _count(stack, day)["payment.received"] == before + 1


def test_a_failed_batch_is_delivered_again(stack):
    poller = _counters_poller(stack)
    poller.poll_once()
    day = "2099-02-0" + str(1 + uuid.uuid4().int % 9)
    before = _count(stack, day).get("payment.received", 0)
    _append(stack, day)
    stack.faults.inject("AuditCountersFunction", "Lambda.ServiceException", times=1)

    failed = poller.poll_once()
    retried = poller.poll_once()

    assert failed.failed_batches == 1 and failed.received >= 1
    assert retried.invoked == 1 and retried.failed_batches == 0
    assert _count(stack, day)["payment.received"] == before + 1
    # The counters' own writes come back through the stream once, and count nothing.
    for _ in range(3):
        poller.poll_once()
    assert poller.poll_once().invoked == 0
    assert _count(stack, day)["payment.received"] == before + 1


def test_a_filter_passes_over_the_functions_own_writes_and_invokes_nothing_for_them(stack):
    """Given the counters' FilterCriteria (audit rows only), the counter and mark writes a batch
    makes are read past without an invocation."""
    poller = _counters_poller(stack)
    poller.poll_once()
    _append(stack, "2099-03-0" + str(1 + uuid.uuid4().int % 9))
    assert poller.poll_once().invoked == 1

    again = poller.poll_once()

    assert (again.invoked, again.received) == (0, 0)


def test_an_archive_mapping_is_filtered_to_settled_transactions(stack):
    (poller,) = [p for p in stack.stream_pollers() if p.source.function_logical_id == "ArchiveFunction"]

    assert poller.source.filters == ({"dynamodb": {"NewImage": {"status": {"S": ["SETTLED"]}}}},)


def test_a_record_with_an_empty_map_key_reads_back_intact(stack):
    """Gap: moto's JSON serializer wrote the entry under key "" into the map itself, so GetRecords
    answered a body botocore could not parse, and the stream's shard was stuck behind it."""
    dynamodb = boto3.client("dynamodb")
    table = stack.outputs["TransactionsTableName"]
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams")
    (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    tid = str(uuid.uuid4())
    dynamodb.put_item(
        TableName=table,
        Item={"transaction_id": {"S": tid}, "metadata": {"M": {"": {"S": "x"}, "ok": {"S": "y"}}}},
    )
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]

    records = streams.get_records(ShardIterator=iterator, Limit=10_000)["Records"]

    (image,) = [
        r["dynamodb"]["NewImage"] for r in records if r["dynamodb"]["Keys"]["transaction_id"]["S"] == tid
    ]
    assert image["metadata"] == {"M": {"": {"S": "x"}, "ok": {"S": "y"}}}
