"""The dashboards' read: GET /audit's range over the day index, O(limit) per page, one outcome vocabulary."""

from __future__ import annotations

import uuid
from datetime import timedelta

import boto3
import pytest

from payments_core.audit import OUTCOME_VOCABULARY, AuditEvent, AuditReader, AuditWriter
from payments_core.clock import parse_iso

ROWS = 60


def _day() -> str:
    number = uuid.uuid4().int
    return f"{2100 + number % 800:04d}-{1 + number % 12:02d}-{1 + number % 28:02d}"


@pytest.fixture
def day_of_rows(stack):
    """ROWS audit rows on a day of their own, one a second, every fifth a decline, spread over the shards."""
    dynamodb = boto3.client("dynamodb")
    writer = AuditWriter(stack.outputs["AuditTableName"], dynamodb=dynamodb)
    day = _day()
    start = parse_iso(f"{day}T08:00:00Z")
    written = []
    for index in range(ROWS):
        declined = index % 5 == 0
        event = AuditEvent(
            transaction_id=str(uuid.uuid4()),
            step="settlement",
            event="declined" if declined else "settled",
            action="payment.declined" if declined else "payment.settled",
            actor="settlement",
            detail={},
            outcome="DECLINED" if declined else "SETTLED",
        )
        writer.append(event, at=start + timedelta(seconds=index))
        written.append(event)
    return start, written, dynamodb


def _reader(stack, dynamodb) -> AuditReader:
    return AuditReader(stack.outputs["AuditTableName"], dynamodb=dynamodb)


def test_pages_come_in_time_order_and_cover_every_row_once(stack, day_of_rows):
    start, written, dynamodb = day_of_rows
    reader = _reader(stack, dynamodb)
    seen, token = [], None

    while True:
        rows, token = reader.range(start, start + timedelta(hours=1), limit=7, next_token=token)
        seen.extend(rows)
        if token is None:
            break

    assert [row["transaction_id"] for row in seen] == [event.transaction_id for event in written]
    assert [row["at"] for row in seen] == sorted(row["at"] for row in seen)


def test_a_page_reads_at_most_limit_rows_per_shard_however_many_the_range_holds(stack, day_of_rows):
    start, _, dynamodb = day_of_rows
    queries = []
    dynamodb.meta.events.register("after-call.dynamodb.Query", lambda parsed, **_: queries.append(parsed))
    sent = []
    dynamodb.meta.events.register(
        "provide-client-params.dynamodb.Query", lambda params, **_: sent.append(params)
    )

    rows, token = _reader(stack, dynamodb).range(start, start + timedelta(hours=1), limit=3)

    assert len(rows) == 3 and token is not None
    assert {params["Limit"] for params in sent} == {3}
    # One query per shard of the day, each reading at most Limit items: cost O(limit), not O(rows).
    assert len(queries) == 16
    assert sum(query["ScannedCount"] for query in queries) <= 16 * 3 < ROWS


def test_outcome_is_one_lower_case_vocabulary_and_filters_by_it(stack, day_of_rows):
    start, written, dynamodb = day_of_rows

    rows, _ = _reader(stack, dynamodb).range(start, start + timedelta(hours=1), outcome="declined", limit=100)

    declined = [event.transaction_id for event in written if event.outcome == "DECLINED"]
    assert [row["transaction_id"] for row in rows] == declined
    assert {row["outcome"] for row in rows} == {"declined"}
    assert set(OUTCOME_VOCABULARY) == {
        "received",
        "conflict",
        "passed",
        "rejected",
        "error",
        "settled",
        "declined",
        "failed",
    }
