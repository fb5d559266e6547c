"""What the demo and the benchmark measure and wait on: statuses in the table, queue depth, latencies."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from payctl.tools.operator.queues import queue_depth
from payctl.tools.operator.status import audit_counters

# The audit action the settlement step writes when a payment reaches each terminal status.
TERMINAL_ACTIONS = {"payment.settled": "SETTLED", "payment.declined": "DECLINED", "payment.failed": "FAILED"}
TERMINAL_STATUSES = frozenset(TERMINAL_ACTIONS.values())
_BATCH_GET_LIMIT = 100


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def counters_over(dynamodb: Any, audit_table: str, days: Iterable[str]) -> Counter[str]:
    """The audit counters by action, summed over the given days (a run can cross midnight UTC)."""
    totals: Counter[str] = Counter()
    for day in sorted(days):
        totals.update(audit_counters(dynamodb, audit_table, day))
    return totals


def statuses_of(dynamodb: Any, table: str, transaction_ids: Iterable[str]) -> dict[str, str]:
    """The status of each of these transactions that exists: consistent BatchGetItem, 100 keys a call.

    This is what waiting reads, not the audit counters: a counter that a fault made diverge would
    leave a wait running forever, a status in the table is the payment itself.
    """
    ids = list(dict.fromkeys(transaction_ids))
    found: dict[str, str] = {}
    for start in range(0, len(ids), _BATCH_GET_LIMIT):
        # DynamoDB hands unprocessed keys back with the projection, ready to send again.
        pending: dict[str, Any] = {
            table: {
                "Keys": [{"transaction_id": {"S": tid}} for tid in ids[start : start + _BATCH_GET_LIMIT]],
                "ProjectionExpression": "transaction_id, #s",
                "ExpressionAttributeNames": {"#s": "status"},
                "ConsistentRead": True,
            }
        }
        while pending:
            response = dynamodb.batch_get_item(RequestItems=pending)
            for item in response.get("Responses", {}).get(table, []):
                if "status" in item:
                    found[item["transaction_id"]["S"]] = item["status"]["S"]
            pending = response.get("UnprocessedKeys") or {}
    return found


def archive_entries(s3: Any, bucket: str, *, expected: int = 0, wait_seconds: float = 0.0) -> tuple[int, int]:
    """(objects, settled payments) in the archive, one payment per line of an object.

    The archive follows the SETTLED statuses through the transactions table's stream, a poll
    behind; with ``expected``, this waits up to ``wait_seconds`` for that many entries.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        objects = entries = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="archive/"):
            for listed in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read()
                objects += 1
                entries += sum(1 for line in body.splitlines() if line.strip())
        if entries >= expected or time.monotonic() >= deadline:
            return objects, entries
        time.sleep(0.25)


class NotDone(RuntimeError):
    """The deadline passed before every payment was terminal and the queue empty."""


def wait_until_done(
    sqs: Any,
    queue_url: str,
    dynamodb: Any,
    table: str,
    transaction_ids: Iterable[str],
    deadline: float,
    *,
    pause: float = 0.5,
) -> dict[str, str]:
    """Wait until the queue holds nothing (visible or in flight) and every payment is terminal.

    The queue is polled while it drains (one cheap call, so a benchmark measures the pipeline,
    not its own polling); the statuses are read once it is empty. Raises :class:`NotDone` with
    what is still open at ``deadline`` (``time.monotonic()`` seconds).
    """
    ids = list(dict.fromkeys(transaction_ids))
    while True:
        depth = queue_depth(sqs, queue_url)
        if depth.total == 0:
            statuses = statuses_of(dynamodb, table, ids)
            open_ids = [tid for tid in ids if statuses.get(tid) not in TERMINAL_STATUSES]
            if not open_ids:
                return statuses
        else:
            open_ids = []
        if time.monotonic() >= deadline:
            if not open_ids:
                statuses = statuses_of(dynamodb, table, ids)
                open_ids = [tid for tid in ids if statuses.get(tid) not in TERMINAL_STATUSES]
            raise NotDone(
                f"{len(open_ids)} of {len(ids)} payments not terminal and {depth.total} messages still "
                f"queued ({depth.in_flight} in flight) at the deadline"
                + (f"; first open: {', '.join(open_ids[:5])}" if open_ids else "")
            )
        time.sleep(pause)


def timestamp(iso: str) -> float:
    """Seconds since the epoch of an item's ISO 8601 time (``...Z``, which 3.11 parses)."""
    return datetime.fromisoformat(iso).timestamp()
