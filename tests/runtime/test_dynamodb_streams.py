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


def test_the_streams_api_answers_on_the_account_endpoint(stack):
    streams = boto3.client("dynamodbstreams")
    arn = boto3.client("dynamodb").describe_table(TableName=stack.outputs["AuditTableName"])["Table"][
        "LatestStreamArn"
    ]

    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]

    assert len(shards) == 1


def test_a_write_invokes_nothing_until_the_poller_runs(stack):
    (poller,) = stack.stream_pollers()
    poller.poll_once()  # whatever earlier tests wrote
    day = "2099-01-0" + str(1 + uuid.uuid4().int % 9)
    before = _count(stack, day).get("payment.received", 0)

    _append(stack, day)
    assert _count(stack, day).get("payment.received", 0) == before

    result = poller.poll_once()
    assert result.invoked == 1 and result.failed_batches == 0
    assert _count(stack, day)["payment.received"] == before + 1


def test_a_failed_batch_is_delivered_again(stack):
    (poller,) = stack.stream_pollers()
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
