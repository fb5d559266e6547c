"""The dashboards' read: GET /audit's range over the day index, O(limit) per page, one outcome vocabulary."""

from __future__ import annotations

import uuid
from datetime import timedelta

import boto3
import pytest

from payments_core.audit import AuditEvent, AuditWriter
from payments_core.audit_reader import OUTCOME_VOCABULARY, AuditReader, shard_page_size
from payments_core.clock import parse_iso
from payments_core.ids import shard_of

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


def test_a_shard_holding_the_whole_range_is_read_page_after_page_in_order(stack):
    """Skew: every row on one shard. Its small first page runs out and the merge reads on."""
    dynamodb = boto3.client("dynamodb")
    writer = AuditWriter(stack.outputs["AuditTableName"], dynamodb=dynamodb)
    start = parse_iso(f"{_day()}T08:00:00Z")
    ids = [str(uuid.uuid4()) for _ in range(2000)]
    same_shard = [tid for tid in ids if shard_of(tid, 16) == 5][:30]
    for index, transaction_id in enumerate(same_shard):
        event = AuditEvent(
            transaction_id, "settlement", "settled", "payment.settled", "settlement", {}, "SETTLED"
        )
        writer.append(event, at=start + timedelta(seconds=index))
    queries = []
    dynamodb.meta.events.register("after-call.dynamodb.Query", lambda parsed, **_: queries.append(parsed))

    rows, token = _reader(stack, dynamodb).range(start, start + timedelta(hours=1), limit=25)

    assert [row["transaction_id"] for row in rows] == same_shard[:25] and token is not None
    assert shard_page_size(25, 16) == 8
    assert len(queries) == 15 + 4  # 15 empty shards, and the full one read 8 rows at a time


@pytest.mark.parametrize(
    ("limit", "size"), [(1, 1), (3, 3), (8, 8), (25, 8), (50, 10), (100, 19), (500, 94), (1000, 188)]
)
def test_each_shard_reads_about_three_times_its_share_of_a_page(limit, size):
    assert shard_page_size(limit, 16) == size
