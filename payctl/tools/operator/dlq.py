"""The dead-letter queue as an operator sees it: read without consuming, replay selected messages, drop.

Reading receives each message once (hidden while the listing runs, so none is seen twice) and
hands every one back at once with ChangeMessageVisibility 0, also when the listing fails half-way.

A replay sends a message to the payments queue with its body and attributes unchanged, and deletes
it from the DLQ only after that send succeeded: a failure part-way leaves it in the DLQ, never
lost, never in both queues for longer than the delete takes. Replay is safe to repeat: the
transaction id derives from the submitter and the idempotency key, so a payment that settled
meanwhile is recognised and nothing is written twice. Every replay and every drop leaves an
audit row on the payment (``operator.dlq_replayed`` / ``operator.dlq_dropped``) with the operator
and both message ids.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jmespath
from botocore.exceptions import ClientError

from payctl.tools.connection import Connection
from payctl.tools.operator.audit import OperatorAudit
from payctl.tools.operator.queues import SQS_BATCH, make_visible
from payctl.tools.operator.status import audit_shards
from payments_core.completion import MARKER_ROWS
from payments_core.status import Status

# Long enough to read a DLQ of a few thousand messages (or replay them) without seeing one twice.
_HOLD_SECONDS = 300
COMPLETE_STATUSES = frozenset({"SETTLED", "DECLINED"})


@dataclass(frozen=True)
class DlqMessage:
    message_id: str
    receipt_handle: str
    body: str
    document: Any
    message_attributes: dict[str, Any]
    system_attributes: dict[str, str]
    transaction_id: str | None
    merchant_id: str | None
    receive_count: int
    source_receive_count: int
    sent_at: datetime | None
    failure_reason: str | None = None
    payment_status: str | None = None
    # The final step's last audit row (payments_core.completion) exists: every effect does.
    completion_marked: bool = False

    @property
    def age(self) -> timedelta | None:
        return datetime.now(UTC) - self.sent_at if self.sent_at else None

    @property
    def complete(self) -> bool:
        """Done: a final status *and* its completion marker. A final status alone is not done (a
        crash after the status write can have left the archive or the last row out), and such a
        message must be replayed: the re-run completes the missing effects."""
        return self.payment_status in COMPLETE_STATUSES and self.completion_marked

    @property
    def attributes(self) -> dict[str, str]:
        return {
            name: str(value.get("StringValue", value.get("DataType")))
            for name, value in self.message_attributes.items()
        }

    def view(self) -> dict[str, Any]:
        """What ``--json`` prints."""
        return {
            "message_id": self.message_id,
            "transaction_id": self.transaction_id,
            "merchant_id": self.merchant_id,
            "failure_reason": self.failure_reason,
            "payment_status": self.payment_status,
            "source_receive_count": self.source_receive_count,
            "receive_count": self.receive_count,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "age_seconds": int(self.age.total_seconds()) if self.age else None,
            "attributes": self.attributes,
            "body": self.body,
        }


def _document(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _transaction_id(message: dict[str, Any], document: Any) -> str | None:
    attribute = (message.get("MessageAttributes") or {}).get("transaction_id") or {}
    if attribute.get("StringValue"):
        return str(attribute["StringValue"])
    found = document.get("transaction_id") if isinstance(document, dict) else None
    return str(found) if found else None


def _merchant_id(document: Any) -> str | None:
    payment = document.get("payment") if isinstance(document, dict) else None
    merchant = payment.get("merchant_id") if isinstance(payment, dict) else None
    return str(merchant) if merchant else None


@dataclass(frozen=True)
class Selection:
    """Which DLQ messages an action applies to; every given criterion must hold."""

    message_ids: frozenset[str] = frozenset()
    transaction_ids: frozenset[str] = frozenset()
    reason: str | None = None
    merchant_id: str | None = None
    older_than: timedelta | None = None
    newer_than: timedelta | None = None
    where: str | None = None
    complete: bool | None = None

    @property
    def everything(self) -> bool:
        return self == Selection()

    def __post_init__(self) -> None:
        if self.where:
            # Compile early: a typo is an error before anything is received.
            jmespath.compile(self.where)

    def __call__(self, message: DlqMessage) -> bool:
        if self.message_ids and message.message_id not in self.message_ids:
            return False
        if self.transaction_ids and message.transaction_id not in self.transaction_ids:
            return False
        if self.reason and self.reason.lower() not in (message.failure_reason or "").lower():
            return False
        if self.merchant_id and message.merchant_id != self.merchant_id:
            return False
        age = message.age
        if self.older_than and (age is None or age < self.older_than):
            return False
        if self.newer_than and (age is None or age > self.newer_than):
            return False
        if self.complete is not None and message.complete != self.complete:
            return False
        return not self.where or bool(jmespath.search(self.where, message.document))


class Dlq:
    """The stack's DLQ, its source queue, and what an operator needs to judge a message."""

    def __init__(self, connection: Connection, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.connection = connection
        self.sqs = connection.client("sqs")
        self.dynamodb = connection.client("dynamodb")
        self.url = connection.output("PaymentsDLQUrl")
        self.arn = connection.output("PaymentsDLQArn")
        self.source_url = connection.output("PaymentsQueueUrl")
        self.source_arn = connection.output("PaymentsQueueArn")
        self._audit_table = connection.output("AuditTableName")
        self._transactions_table = connection.output("TransactionsTableName")
        self._max_receives: int | None = None
        self._clock = clock

    # ------------------------------------------------------------------ reading

    @property
    def max_receives(self) -> int:
        if self._max_receives is None:
            policy = self.sqs.get_queue_attributes(QueueUrl=self.source_url, AttributeNames=["RedrivePolicy"])
            redrive = json.loads(policy.get("Attributes", {}).get("RedrivePolicy", "{}"))
            self._max_receives = int(redrive.get("maxReceiveCount", 0))
        return self._max_receives

    def _audit_rows(self, transaction_id: str) -> list[dict[str, Any]]:
        return list(
            self.dynamodb.query(
                TableName=self._audit_table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": transaction_id}},
                ConsistentRead=True,
            ).get("Items", [])
        )

    @staticmethod
    def _failure_reason(rows: list[dict[str, Any]]) -> str | None:
        """The latest failure the payment's audit trail records: its error, and the cause's start."""
        failures = [row for row in rows if row.get("action", {}).get("S") == "payment.failed"]
        if not failures:
            return None
        latest = max(failures, key=lambda row: row.get("at", {}).get("S", ""))
        detail = latest.get("detail", {}).get("M", {})
        error = detail.get("error", {}).get("S", "")
        cause = detail.get("cause", {}).get("S", "")
        return f"{error}: {cause}" if cause else error or None

    def _payment_status(self, transaction_id: str) -> str | None:
        item = self.dynamodb.get_item(
            TableName=self._transactions_table,
            Key={"transaction_id": {"S": transaction_id}},
            ProjectionExpression="#status",
            ExpressionAttributeNames={"#status": "status"},
            ConsistentRead=True,
        ).get("Item")
        return str(item["status"]["S"]) if item and "status" in item else None

    def _describe(self, message: dict[str, Any]) -> DlqMessage:
        attributes = message.get("Attributes") or {}
        document = _document(message["Body"])
        transaction_id = _transaction_id(message, document)
        sent = attributes.get("SentTimestamp")
        receives = int(attributes.get("ApproximateReceiveCount", 0))
        rows = self._audit_rows(transaction_id) if transaction_id else []
        status = self._payment_status(transaction_id) if transaction_id else None
        marker = MARKER_ROWS.get(Status(status)) if status in COMPLETE_STATUSES else None
        return DlqMessage(
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            body=message["Body"],
            document=document,
            message_attributes=message.get("MessageAttributes") or {},
            system_attributes=attributes,
            transaction_id=transaction_id,
            merchant_id=_merchant_id(document),
            receive_count=receives,
            # SQS moves a message after maxReceiveCount receives and keeps counting in the DLQ, where
            # every read (this one included) adds one: the source's share is at most that maximum.
            source_receive_count=min(max(receives - 1, 0), self.max_receives or receives),
            sent_at=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
            failure_reason=self._failure_reason(rows),
            payment_status=status,
            completion_marked=marker is not None and any(row["sk"]["S"] == marker for row in rows),
        )

    @contextmanager
    def held(self, limit: int | None = None) -> Iterator[list[DlqMessage]]:
        """Up to ``limit`` messages, received and hidden; whatever the block did not delete goes back."""
        received: list[dict[str, Any]] = []
        deleted: set[str] = set()
        try:
            while limit is None or len(received) < limit:
                batch = self.sqs.receive_message(
                    QueueUrl=self.url,
                    MaxNumberOfMessages=SQS_BATCH if limit is None else min(SQS_BATCH, limit - len(received)),
                    VisibilityTimeout=_HOLD_SECONDS,
                    WaitTimeSeconds=0,
                    MessageSystemAttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                if not batch:
                    break
                received.extend(batch)
            messages = [self._describe(message) for message in received]
            self._deleted = deleted
            yield messages
        finally:
            make_visible(self.sqs, self.url, [m for m in received if m["MessageId"] not in deleted])

    def read(self, limit: int = 100, selection: Selection | None = None) -> list[DlqMessage]:
        with self.held(limit) as messages:
            return [m for m in messages if selection is None or selection(m)]

    # ------------------------------------------------------------------ acting

    def _delete(self, message: DlqMessage) -> None:
        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message.receipt_handle)
        self._deleted.add(message.message_id)

    def _send(self, message: DlqMessage) -> str:
        entry: dict[str, Any] = {"QueueUrl": self.source_url, "MessageBody": message.body}
        if message.message_attributes:
            entry["MessageAttributes"] = message.message_attributes
        trace_header = message.system_attributes.get("AWSTraceHeader")
        if trace_header:
            entry["MessageSystemAttributes"] = {
                "AWSTraceHeader": {"StringValue": trace_header, "DataType": "String"}
            }
        return str(self.sqs.send_message(**entry)["MessageId"])

    def _audit(self) -> OperatorAudit:
        return OperatorAudit(self.dynamodb, self._audit_table, audit_shards(self.connection))

    def replay(
        self,
        selection: Selection,
        *,
        operator: str,
        limit: int | None = None,
        rate: float | None = None,
        include_complete: bool = False,
        confirm: Callable[[list[DlqMessage]], bool] = lambda _messages: True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> ReplayReport:
        """Move the selected messages back to the payments queue; ``confirm`` sees them first."""
        report = ReplayReport()
        audit = self._audit()
        interval = 1.0 / rate if rate else 0.0
        with self.held() as messages:
            chosen = [m for m in messages if selection(m)]
            report.complete = [m for m in chosen if m.complete and not include_complete]
            chosen = [m for m in chosen if include_complete or not m.complete]
            if limit is not None:
                chosen = chosen[:limit]
            report.selected = chosen
            if not chosen or not confirm(chosen):
                return report
            for message in chosen:
                started = time.monotonic()
                try:
                    new_id = self._send(message)
                except ClientError as exc:
                    report.failed.append((message, str(exc.response.get("Error", {}).get("Message", exc))))
                    continue
                self._delete(message)
                report.moved.append((message, new_id))
                if message.transaction_id:
                    audit.replayed(
                        message.transaction_id, operator, message.message_id, new_id, message.failure_reason
                    )
                if interval:
                    sleep(max(0.0, interval - (time.monotonic() - started)))
        return report

    def drop(
        self,
        selection: Selection,
        *,
        operator: str,
        limit: int | None = None,
        confirm: Callable[[list[DlqMessage]], bool] = lambda _messages: True,
    ) -> list[DlqMessage]:
        """Delete the selected messages for good, after ``confirm``; an audit row for each payment."""
        audit = self._audit()
        with self.held() as messages:
            chosen = [m for m in messages if selection(m)]
            if limit is not None:
                chosen = chosen[:limit]
            if not chosen or not confirm(chosen):
                return []
            for message in chosen:
                self._delete(message)
                if message.transaction_id:
                    audit.dropped(
                        message.transaction_id, operator, message.message_id, message.failure_reason
                    )
            return chosen

    # ------------------------------------------------------------------ native redrive

    def start_move_task(self, rate: int | None = None) -> str:
        """SQS's own redrive (StartMessageMoveTask): every message back to its source queue."""
        kwargs: dict[str, Any] = {"SourceArn": self.arn, "DestinationArn": self.source_arn}
        if rate:
            kwargs["MaxNumberOfMessagesPerSecond"] = rate
        return str(self.sqs.start_message_move_task(**kwargs)["TaskHandle"])

    def move_tasks(self) -> list[dict[str, Any]]:
        return list(self.sqs.list_message_move_tasks(SourceArn=self.arn, MaxResults=10).get("Results", []))

    def cancel_move_task(self, task_handle: str) -> int:
        return int(
            self.sqs.cancel_message_move_task(TaskHandle=task_handle).get(
                "ApproximateNumberOfMessagesMoved", 0
            )
        )


@dataclass
class ReplayReport:
    selected: list[DlqMessage] = field(default_factory=list)
    moved: list[tuple[DlqMessage, str]] = field(default_factory=list)
    failed: list[tuple[DlqMessage, str]] = field(default_factory=list)
    complete: list[DlqMessage] = field(default_factory=list)
