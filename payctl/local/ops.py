"""Operator reads and actions on a stack: queue depths, counts by status, DLQ listing and replay."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from payctl.local.connection import Connection
from payctl.runtime.sqs_redrive import MoveResult, move_messages

# The audit table's counter items (payments_core.audit): pk "counter#<YYYY-MM-DD>#<shard>", sk the action.
COUNTER_PREFIX = "counter#"
DEFAULT_AUDIT_SHARDS = 16
# Long enough to list a DLQ of a few thousand messages without seeing one twice.
_LIST_VISIBILITY_SECONDS = 60


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int
    delayed: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


def queue_depth(sqs: Any, queue_url: str) -> QueueDepth:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return QueueDepth(
        visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
        in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
    )


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


def audit_counters(dynamodb: Any, table: str, day: str, shards: int = DEFAULT_AUDIT_SHARDS) -> dict[str, int]:
    """The day's audit counters by action, summed over the shards."""
    totals: Counter[str] = Counter()
    for shard in range(shards):
        paginator = dynamodb.get_paginator("query")
        for page in paginator.paginate(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"{COUNTER_PREFIX}{day}#{shard:02d}"}},
        ):
            for item in page.get("Items", []):
                totals[item["sk"]["S"]] += int(item["count"]["N"])
    return dict(sorted(totals.items()))


@dataclass(frozen=True)
class StackStatus:
    queue: QueueDepth
    dlq: QueueDepth
    statuses: dict[str, int]
    counters: dict[str, int]
    day: str


def audit_shards(connection: Connection) -> int:
    value = connection.environment.get("AUDIT_SHARDS") or connection.parameters.get("AuditShards")
    return int(value) if value else DEFAULT_AUDIT_SHARDS


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
        counters=audit_counters(dynamodb, connection.output("AuditTableName"), day, audit_shards(connection)),
        day=day,
    )


@dataclass(frozen=True)
class DlqMessage:
    message_id: str
    transaction_id: str | None
    receive_count: int
    sent_at: datetime | None
    attributes: dict[str, str]
    body: str


def _transaction_id(message: dict[str, Any]) -> str | None:
    attribute = (message.get("MessageAttributes") or {}).get("transaction_id") or {}
    if attribute.get("StringValue"):
        return str(attribute["StringValue"])
    try:
        body = json.loads(message["Body"])
    except (TypeError, ValueError):
        return None
    found = body.get("transaction_id") if isinstance(body, dict) else None
    return str(found) if found else None


def make_visible(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Make received messages visible again at once (ten per call, SQS's batch limit)."""
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)
            ],
        )


def list_dlq(sqs: Any, dlq_url: str, limit: int = 100) -> list[DlqMessage]:
    """Read up to ``limit`` DLQ messages without consuming them.

    Each message is received once (hidden while listing, so none is seen twice), then made
    visible again at once. Receiving raises a DLQ message's receive count, which is harmless:
    a DLQ has no redrive policy of its own.
    """
    received: list[dict[str, Any]] = []
    try:
        while len(received) < limit:
            batch = sqs.receive_message(
                QueueUrl=dlq_url,
                MaxNumberOfMessages=min(10, limit - len(received)),
                VisibilityTimeout=_LIST_VISIBILITY_SECONDS,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                break
            received.extend(batch)
    finally:
        make_visible(sqs, dlq_url, received)
    messages = []
    for message in received:
        attributes = message.get("Attributes") or {}
        sent = attributes.get("SentTimestamp")
        messages.append(
            DlqMessage(
                message_id=message["MessageId"],
                transaction_id=_transaction_id(message),
                receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
                sent_at=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
                attributes={
                    name: str(value.get("StringValue", value.get("DataType")))
                    for name, value in (message.get("MessageAttributes") or {}).items()
                },
                body=message["Body"],
            )
        )
    return messages


def replay_dlq(connection: Connection, message_ids: set[str] | None = None) -> MoveResult:
    """Move DLQ messages back to the payments queue, body and attributes preserved.

    Replay is safe: the transaction id derives from the submitter and idempotency key, so a
    payment that did settle meanwhile is recognised and nothing is written twice.
    """

    def select(message: dict[str, Any]) -> bool:
        return message_ids is None or message["MessageId"] in message_ids

    with connection.environment_for_sdk():
        return move_messages(
            connection.output("PaymentsDLQArn"),
            connection.output("PaymentsQueueArn"),
            select=select,
            region=connection.region,
        )
