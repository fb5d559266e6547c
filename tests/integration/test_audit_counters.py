"""The audit counters, added up from the audit table's stream: each row once, whatever is redelivered."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest

from payctl.runtime import LambdaFunctionError
from payments_core.audit import AuditCounters, AuditEvent, AuditWriter
from payments_core.audit_reader import AuditReader
from payments_core.clock import parse_iso
from tests.integration.workflow_support import drain_audit_stream


def _day() -> str:
    """A day of its own (far in the future), so the counts are this test's alone."""
    number = uuid.uuid4().int
    return f"{2100 + number % 800:04d}-{1 + number % 12:02d}-{1 + number % 28:02d}"


def _record(sequence: int, day: str, action: str, event_name: str = "INSERT", pk: str | None = None) -> dict:
    image = {
        "pk": {"S": pk or str(uuid.uuid4())},
        "sk": {"S": "step#event"},
        "at": {"S": f"{day}T10:00:00.000Z"},
        "action": {"S": action},
    }
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "dynamodb": {"NewImage": image, "SequenceNumber": str(sequence), "StreamViewType": "NEW_IMAGE"},
    }


def _event(shard: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records, "shardId": shard, "state": {}, "isFinalInvokeForWindow": False}


def _reader(stack) -> AuditReader:
    return AuditReader(stack.outputs["AuditTableName"], dynamodb=boto3.client("dynamodb"))


def test_rows_written_by_the_steps_are_counted_once_from_the_stream(stack):
    writer = AuditWriter(stack.outputs["AuditTableName"], dynamodb=boto3.client("dynamodb"))
    day = _day()
    at = parse_iso(f"{day}T09:30:00Z")
    for index in range(3):
        event = AuditEvent(
            str(uuid.uuid4()), "ingest", "received", "payment.received", "ingest", {"i": index}
        )
        assert writer.append(event, at=at) is True
        # A retried step writes the same row: refused, and never counted.
        assert writer.append(event, at=at) is False

    drain_audit_stream(stack)

    assert _reader(stack).counters(day) == {"payment.received": 3}


def test_a_redelivered_batch_counts_nothing_and_an_overlapping_one_only_its_new_rows(stack):
    shard, day = f"shardId-test-{uuid.uuid4().hex[:8]}", _day()
    first = [_record(10 + i, day, "payment.settled") for i in range(3)]

    assert stack.invoke("AuditCountersFunction", _event(shard, first)) == {"state": {}}
    stack.invoke("AuditCountersFunction", _event(shard, first))  # Lambda retries the same batch
    later = [*first[1:], _record(13, day, "payment.settled"), _record(14, day, "payment.declined")]
    stack.invoke("AuditCountersFunction", _event(shard, later))

    assert _reader(stack).counters(day) == {"payment.declined": 1, "payment.settled": 4}


def test_only_audit_row_inserts_count(stack):
    shard, day = f"shardId-test-{uuid.uuid4().hex[:8]}", _day()
    records = [
        _record(1, day, "payment.settled", event_name="MODIFY"),
        _record(2, day, "payment.settled", pk=f"counter#{day}"),
        _record(3, day, "payment.settled"),
    ]

    stack.invoke("AuditCountersFunction", _event(shard, records))

    assert _reader(stack).counters(day) == {"payment.settled": 1}


def test_a_batch_with_more_counters_than_one_transaction_holds_counts_every_row(stack):
    counters = AuditCounters(stack.outputs["AuditTableName"], dynamodb=boto3.client("dynamodb"))
    shard, day = f"shardId-test-{uuid.uuid4().hex[:8]}", _day()
    records = [_record(100 + i, day, f"test.action{i:03d}") for i in range(150)]

    assert counters.count(shard, records) == 150
    assert counters.count(shard, records) == 0

    counted = _reader(stack).counters(day)
    assert len(counted) == 150 and set(counted.values()) == {1}


def test_an_event_without_its_shard_fails_loudly(stack):
    with pytest.raises(LambdaFunctionError) as failed:
        stack.invoke("AuditCountersFunction", {"Records": [_record(1, _day(), "payment.settled")]})

    assert failed.value.error_type == "MalformedMessage"
