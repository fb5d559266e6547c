"""A stack at a glance: queue and DLQ depth, transactions by status, the day's audit counters."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from payctl.tools.connection import Connection
from payctl.tools.operator.queues import QueueDepth, queue_depth
from payments_core.audit_reader import AuditReader
from payments_core.settings import DEFAULT_AUDIT_SHARDS


def counts_by_status(dynamodb: Any, table: str) -> dict[str, int]:
    """A full scan of the status attribute: fine for a local stack, costly on a large real table
    (there, prefer :func:`audit_counters`, which reads a few counter items per day)."""
    counts: Counter[str] = Counter()
    paginator = dynamodb.get_paginator("scan")
    for page in paginator.paginate(
        TableName=table, ProjectionExpression="#status", ExpressionAttributeNames={"#status": "status"}
    ):
        for item in page.get("Items", []):
            counts[item.get("status", {}).get("S", "UNKNOWN")] += 1
    return dict(sorted(counts.items()))


def audit_counters(dynamodb: Any, table: str, day: str) -> dict[str, int]:
    """The day's audit counters by action (added up from the audit table's stream, seconds behind)."""
    return AuditReader(table_name=table, dynamodb=dynamodb).counters(day)


def audit_shards(connection: Connection) -> int:
    """The shard count the stack's functions spread the audit rows' day index over."""
    return int(connection.setting("AUDIT_SHARDS", "AuditShards", str(DEFAULT_AUDIT_SHARDS)))


@dataclass(frozen=True)
class StackStatus:
    queue: QueueDepth
    dlq: QueueDepth
    statuses: dict[str, int]
    counters: dict[str, int]
    day: str


def stack_status(connection: Connection, *, scan_statuses: bool = True) -> StackStatus:
    sqs = connection.client("sqs")
    dynamodb = connection.client("dynamodb")
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    return StackStatus(
        queue=queue_depth(sqs, connection.output("PaymentsQueueUrl")),
        dlq=queue_depth(sqs, connection.output("PaymentsDLQUrl")),
        statuses=counts_by_status(dynamodb, connection.output("TransactionsTableName"))
        if scan_statuses
        else {},
        counters=audit_counters(dynamodb, connection.output("AuditTableName"), day),
        day=day,
    )
