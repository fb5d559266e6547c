"""Recording a queued payment: the transaction item once, then its workflow.

The item's put is the payment's first state change; its audit row follows from the stream
(``payments_core.audit_trail``), as every later one does.

A failure that a retry can fix raises ``WorkflowFailed`` (or ``DependencyError``): the queue
delivers the message again, and after five receives it lands in the DLQ. A payment whose every
effect exists is done and is not run again; a conflicting payload under a used id is audited and
dropped, since no retry can change it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from ingest_svc.logic.ports import TransactionsPort, WorkflowPort
from payments_core.audit import AuditEvent, AuditPort
from payments_core.errors import WorkflowFailed
from payments_core.models import PaymentMessage
from payments_core.status import FINAL_STATUSES, Status

ACTOR: Final[str] = "ingest"
# StartSyncExecution runs an Express workflow for at most five minutes.
EXPRESS_SYNC_LIMIT_SECONDS: Final[int] = 300
# Below this much time left, hand the record back to the queue rather than be cut off mid-execution.
MIN_WORKFLOW_SECONDS: Final[float] = 2.0
# Leaves the function time to report its partial batch response after the last call returns.
RESPONSE_MARGIN_SECONDS: Final[float] = 1.0


class RecordResult(StrEnum):
    WORKFLOW_SUCCEEDED = "workflow_succeeded"
    ALREADY_FINAL = "already_final"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class Recorded:
    """What recording one message did; ``created`` when this delivery put the transaction item."""

    result: RecordResult
    created: bool


@dataclass(frozen=True)
class RecordPorts:
    transactions: TransactionsPort
    audit: AuditPort
    workflow: WorkflowPort


def transaction_item(message: PaymentMessage) -> dict[str, Any]:
    """The transaction item ingest owns: status RECEIVED, the payment fields and the payload hash."""
    payment = message.payment
    return {
        "transaction_id": message.transaction_id,
        "status": Status.RECEIVED.value,
        "merchant_id": payment.merchant_id,
        "customer_id": payment.customer.id if payment.customer else None,
        "amount": payment.amount,
        "currency": payment.currency,
        "reference": payment.reference,
        "payment_method": payment.payment_method.model_dump(exclude_none=True),
        "customer": payment.customer.model_dump(exclude_none=True) if payment.customer else None,
        "metadata": dict(payment.metadata),
        "submitter": message.submitter,
        "idempotency_key": message.idempotency_key,
        "payload_hash": message.payload_hash,
        "created_at": message.received_at,
        "updated_at": message.received_at,
    }


def workflow_input(message: PaymentMessage) -> dict[str, Any]:
    return {
        "transaction_id": message.transaction_id,
        "payment": message.payment.to_document(),
        "received_at": message.received_at,
    }


def execution_name(message: PaymentMessage, receive_count: int) -> str:
    """One name per delivery: a redelivery runs a fresh execution, and its name says which attempt it was."""
    return f"{message.transaction_id}-{receive_count}"


def conflict_event(message: PaymentMessage, existing: dict[str, Any]) -> AuditEvent:
    """A payload that differs from the one recorded under its id: no write stands for it, so its
    row is appended here."""
    detail = {
        "idempotency_key": message.idempotency_key,
        "payload_hash": message.payload_hash,
        "recorded_payload_hash": existing.get("payload_hash"),
    }
    return AuditEvent(
        transaction_id=message.transaction_id,
        step="ingest",
        event="conflict",
        action="payment.conflict",
        actor=ACTOR,
        detail=detail,
        outcome="CONFLICT",
    )


def is_done(existing: dict[str, Any] | None) -> bool:
    """Whether the payment is final. The final status is the last write of its workflow: what
    follows from it (the audit rows, the settlement record, the archive entry) the stream delivers."""
    return (existing or {}).get("status", Status.RECEIVED.value) in FINAL_STATUSES


def run_workflow(
    message: PaymentMessage,
    receive_count: int,
    workflow: WorkflowPort,
    remaining_seconds: Callable[[], float],
) -> None:
    """Run the payment's workflow to its end within this invocation; ``WorkflowFailed`` otherwise."""
    timeout = min(EXPRESS_SYNC_LIMIT_SECONDS + 5.0, remaining_seconds() - RESPONSE_MARGIN_SECONDS)
    if timeout < MIN_WORKFLOW_SECONDS:
        raise WorkflowFailed("not enough time left in this invocation to run the workflow; handed back")
    run = workflow.run(
        execution_name(message, receive_count), workflow_input(message), timeout_seconds=timeout
    )
    if run.status != "SUCCEEDED":
        raise WorkflowFailed(
            f"workflow execution ended {run.status}" + (f" ({run.error})" if run.error else "")
        )


def record_payment(
    message: PaymentMessage,
    ports: RecordPorts,
    *,
    receive_count: int,
    remaining_seconds: Callable[[], float],
    now: Callable[[], datetime],
) -> Recorded:
    """Record the transaction once and run its workflow to an outcome.

    Raises ``WorkflowFailed`` (or ``DependencyError``) when the record must go back to the queue:
    SQS delivers it again, and after five receives it lands in the DLQ.
    """
    existing = ports.transactions.create(transaction_item(message))
    if existing is not None and existing.get("payload_hash") != message.payload_hash:
        ports.audit.append(conflict_event(message, existing), at=now())
        return Recorded(RecordResult.CONFLICT, created=False)
    if is_done(existing):
        return Recorded(RecordResult.ALREADY_FINAL, created=existing is None)
    run_workflow(message, receive_count, ports.workflow, remaining_seconds)
    return Recorded(RecordResult.WORKFLOW_SUCCEEDED, created=existing is None)
