"""The audit trail and its counters: the rows follow from the transactions table's stream, and the
counters add up the audit table's stream; each row is written and counted once, whatever is
redelivered or fails half-way."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import boto3
import pytest

from payctl.runtime import LambdaFunctionError
from payctl.runtime.faults import Kind, Rule
from payments_core.audit import AuditCounters, AuditEvent, AuditWriter
from payments_core.audit_reader import AuditReader
from payments_core.clock import parse_iso
from payments_core.dynamo import serialize
from tests.factories import fresh_payment as payment
from tests.integration.workflow_support import (
    audit_rows,
    drain_audit_stream,
    new_transaction_id,
    seed_transaction,
    settlement_event,
)


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


def test_rows_appended_outside_the_trail_are_counted_once_from_the_stream(stack):
    """Given rows that no transaction write stands for (a conflicting payload), appended with a
    guard, a repeated append is refused and each row is counted once."""
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


def _checks(day: str) -> dict[str, Any]:
    return {
        "validation": {"outcome": "PASS", "reasons": [], "checked_at": f"{day}T10:00:01.000000Z"},
        "fraud": {
            "outcome": "APPROVE",
            "score": "0.00",
            "reasons": [],
            "checked_at": f"{day}T10:00:02.000000Z",
        },
    }


def _state_change(sequence: int, image: dict[str, Any]) -> dict[str, Any]:
    """A transactions-stream record of the state change that left the item as ``image``."""
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": "MODIFY",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "NewImage": serialize(image),
            "SequenceNumber": str(sequence),
            "StreamViewType": "NEW_IMAGE",
        },
    }


def test_a_redelivered_trail_batch_writes_the_same_rows_and_counts_nothing_more(stack):
    """Given the trail's batch delivered twice (Lambda retries a batch), the second delivery puts the
    very same rows again, so the table holds each once and each is counted once."""
    day, transaction_id = _day(), new_transaction_id()
    settled = {
        "transaction_id": transaction_id,
        "status": "SETTLED",
        "merchant_id": "m_123",
        "amount": Decimal("12.34"),
        "currency": "USD",
        "settlement": {
            "amount": Decimal("12.34"),
            "currency": "USD",
            "fee": Decimal("0.66"),
            "net": Decimal("11.68"),
            "settled_at": f"{day}T10:00:03.000000Z",
        },
        "created_at": f"{day}T10:00:00.000000Z",
        "updated_at": f"{day}T10:00:03.000000Z",
        **_checks(day),
    }
    failed = {
        **{k: v for k, v in settled.items() if k not in ("settlement", "validation", "fraud")},
        "status": "FAILED",
        "failure": {"error": "DependencyError", "cause": "x", "execution": f"{transaction_id}-1"},
        "updated_at": f"{day}T09:59:59.000000Z",
    }
    event = {"Records": [_state_change(1, failed), _state_change(2, settled)]}

    assert stack.invoke("AuditTrailFunction", event) is None
    rows = audit_rows(stack, transaction_id)
    stack.invoke("AuditTrailFunction", event)

    assert audit_rows(stack, transaction_id) == rows
    assert sorted(row["sk"] for row in rows) == [
        "fraud#completed",
        f"settlement#failed#{transaction_id}-1",
        "settlement#settled",
        "validation#completed",
    ]
    assert _reader(stack).counters(day) == {
        "fraud.approved": 1,
        "payment.failed": 1,
        "payment.settled": 1,
        "validation.passed": 1,
    }


@pytest.mark.parametrize(
    ("kind", "error"),
    [(Kind.DEPENDENCY_ERROR, "ProvisionedThroughputExceededException"), (Kind.CRASH_AFTER_CALL, "")],
    ids=["rows-write-throttled", "crash-after-rows-write"],
)
def test_a_trail_batch_that_fails_is_retried_and_its_rows_land_and_count_once(stack, kind, error):
    """Given the trail's BatchWriteItem failing (or the function dying right after it landed), the
    stream delivers the batch again: every row of the payment's state changes exists once, and
    the counters count each once."""
    day, transaction_id = _day(), new_transaction_id()
    document = payment()
    drain_audit_stream(stack)
    seed_transaction(stack, transaction_id, document, created_at=f"{day}T10:00:00.000000Z")
    stack.invoke(
        "SettlementFunction", settlement_event("settle", transaction_id, document, checks=_checks(day))
    )
    rule = stack.faults.add(
        Rule(
            kind,
            error,
            function="AuditTrailFunction",
            transaction_id=transaction_id,
            service="dynamodb",
            operation="BatchWriteItem",
            count=1,
        )
    )
    try:
        rows = audit_rows(stack, transaction_id)
    finally:
        stack.faults.plan.clear()

    assert rule.fired == 1
    assert sorted(row["sk"] for row in rows) == [
        "fraud#completed",
        "ingest#received",
        "settlement#settled",
        "validation#completed",
    ]
    # The settled row is stamped with today's settlement; the others are on the test's own day.
    assert _reader(stack).counters(day) == {
        "fraud.approved": 1,
        "payment.received": 1,
        "validation.passed": 1,
    }
