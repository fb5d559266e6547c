"""Ingest rules: accepting payments idempotently, recording them from the queue, and the read views.

Plain Python over injected ports; the adapters live in ``dal``.

Idempotency follows Stripe. A request is identified by (submitter, idempotency key) and its body
by the canonical payment document, so ``"12.3"`` and ``12.30`` for USD are the same body:

* first time: the payment is queued and the response recorded (202, ``replayed: false``);
* same key, same body: the recorded response is replayed with ``replayed: true``, nothing is queued;
* same key, other body: ``idempotency_key_reused`` (422);
* same key while the first request is still running: ``request_in_progress`` (409).

A single POST and every batch item take the same path, so a key used in a batch replays on a
single POST and the other way round. Downstream deduplication does not depend on the records'
lifetime: the transaction id is derived from the same (submitter, key), and the consumer's
conditional put refuses a second item for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from payments_core.audit import AuditEvent
from payments_core.clock import parse_iso
from payments_core.completion import CompletionPort
from payments_core.errors import (
    DependencyError,
    EnqueueFailed,
    IdempotencyKeyReused,
    InvalidRequest,
    PaymentsError,
    RequestInProgress,
    TransactionNotFound,
    WorkflowFailed,
)
from payments_core.ids import payload_hash, transaction_id
from payments_core.models import FINAL_STATUSES, Payment, PaymentMessage, Status
from payments_core.money import format_amount

if TYPE_CHECKING:
    # The API's request models; the queue consumer shares this module and never needs them.
    from ingest_svc.models import BatchEntry

ACTOR: Final[str] = "ingest"
# StartSyncExecution runs an Express workflow for at most five minutes.
EXPRESS_SYNC_LIMIT_SECONDS: Final[int] = 300
# Below this much time left, hand the record back to the queue rather than be cut off mid-execution.
MIN_WORKFLOW_SECONDS: Final[float] = 2.0
# Leaves the function time to report its partial batch response after the last call returns.
RESPONSE_MARGIN_SECONDS: Final[float] = 1.0
DEFAULT_AUDIT_WINDOW: Final[timedelta] = timedelta(hours=1)
AUDIT_EARLIEST: Final[datetime] = datetime(1970, 1, 1, tzinfo=UTC)
AUDIT_LATEST: Final[datetime] = datetime(9000, 1, 1, tzinfo=UTC)

NOT_VISIBLE_YET: Final[str] = (
    "transaction not found; an accepted payment becomes visible once the queue consumer has recorded it, "
    "usually well under a second after the 202, so retry shortly if you just submitted it"
)


# ------------------------------------------------------------------------------------------ accepting


@dataclass(frozen=True)
class IdempotentRequest:
    """One payment under one idempotency key: what the idempotency record is keyed and validated on."""

    submitter: str
    idempotency_key: str
    payment: Payment

    @property
    def transaction_id(self) -> str:
        return transaction_id(self.submitter, self.idempotency_key)

    @property
    def document(self) -> dict[str, Any]:
        return self.payment.to_document()

    @property
    def payload_hash(self) -> str:
        return payload_hash(self.document)


class ClaimState(StrEnum):
    NEW = "new"
    COMPLETED = "completed"
    IN_PROGRESS = "in_progress"
    REUSED = "reused"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Claim:
    """What the idempotency store said about a request: ours to run, or the recorded response."""

    state: ClaimState
    response: dict[str, Any] | None = None


class IdempotencyPort(Protocol):
    def claim(self, requests: Sequence[IdempotentRequest]) -> list[Claim]:
        """Mark each request in progress; one Claim per request, in order. Never raises per item."""
        ...

    def complete(self, done: Sequence[tuple[IdempotentRequest, dict[str, Any]]]) -> None:
        """Record the response of each request so that a retry replays it."""
        ...

    def release(self, requests: Sequence[IdempotentRequest]) -> None:
        """Forget the in-progress records of requests that did not go through, so a retry can."""
        ...


class QueuePort(Protocol):
    def send(self, messages: Sequence[PaymentMessage]) -> set[str]:
        """Enqueue the messages; the transaction ids of those that could not be enqueued."""
        ...


class RecordedPort(Protocol):
    def payload_hashes(self, transaction_ids: Sequence[str]) -> dict[str, str]:
        """The payload hash of each of these transactions that the queue consumer has recorded."""
        ...


ItemStatus = Literal["accepted", "replayed", "rejected"]


@dataclass(frozen=True)
class Outcome:
    """The result of one submitted payment, in request order."""

    index: int
    idempotency_key: str | None
    status: ItemStatus
    transaction_id: str | None = None
    error: PaymentsError | None = None
    status_code: int = 202
    body: dict[str, Any] = field(default_factory=dict)


def recorded_response(request: IdempotentRequest) -> dict[str, Any]:
    """What a replay of this request answers: the first response, as status code and body."""
    return {"status_code": 202, "body": {"transaction_id": request.transaction_id, "status": "ACCEPTED"}}


def _rejected(index: int, key: str | None, error: PaymentsError, tid: str | None = None) -> Outcome:
    return Outcome(index, key, "rejected", transaction_id=tid, error=error, status_code=error.http_status)


def _replayed(index: int, request: IdempotentRequest, response: dict[str, Any] | None) -> Outcome:
    stored = response or recorded_response(request)
    body = {**stored.get("body", {}), "replayed": True}
    return Outcome(
        index,
        request.idempotency_key,
        "replayed",
        transaction_id=body.get("transaction_id", request.transaction_id),
        status_code=int(stored.get("status_code", 202)),
        body=body,
    )


def _key_reused(key_field: str) -> IdempotencyKeyReused:
    return IdempotencyKeyReused(
        "this idempotency key was already used with a different body", field=key_field
    )


def _claim_outcome(index: int, request: IdempotentRequest, claim: Claim, key_field: str) -> Outcome | None:
    key, tid = request.idempotency_key, request.transaction_id
    if claim.state is ClaimState.COMPLETED:
        return _replayed(index, request, claim.response)
    if claim.state is ClaimState.IN_PROGRESS:
        return _rejected(
            index, key, RequestInProgress("a request with this idempotency key is in progress"), tid
        )
    if claim.state is ClaimState.REUSED:
        return _rejected(index, key, _key_reused(key_field))
    if claim.state is ClaimState.UNAVAILABLE:
        return _rejected(index, key, DependencyError("the idempotency store is unavailable; retry"), tid)
    return None


def _without_recorded(
    new: list[tuple[int, IdempotentRequest]],
    outcomes: list[Outcome | None],
    idempotency: IdempotencyPort,
    recorded: RecordedPort,
    key_field: str,
) -> list[tuple[int, IdempotentRequest]]:
    """The claimed requests whose transaction does not exist yet; the others get their outcome."""
    try:
        hashes = recorded.payload_hashes([request.transaction_id for _, request in new])
    except DependencyError:
        # Unlock the keys at once: the client's retry must not meet request_in_progress.
        idempotency.release([request for _, request in new])
        raise
    if not hashes:
        return new
    recorded_new = [(i, r) for i, r in new if r.transaction_id in hashes]
    replays = [(i, r) for i, r in recorded_new if hashes[r.transaction_id] == r.payload_hash]
    conflicts = [(i, r) for i, r in recorded_new if hashes[r.transaction_id] != r.payload_hash]
    if replays:
        idempotency.complete([(request, recorded_response(request)) for _, request in replays])
    if conflicts:
        idempotency.release([request for _, request in conflicts])
    for index, request in replays:
        outcomes[index] = _replayed(index, request, recorded_response(request))
    for index, request in conflicts:
        outcomes[index] = _rejected(index, request.idempotency_key, _key_reused(key_field))
    return [(i, r) for i, r in new if r.transaction_id not in hashes]


def accept_payments(
    submitter: str,
    entries: Sequence[BatchEntry],
    *,
    idempotency: IdempotencyPort,
    queue: QueuePort,
    recorded: RecordedPort,
    received_at: str,
    key_field: str = "idempotency_key",
) -> list[Outcome]:
    """Queue every new valid payment once; replay or reject the rest. One Outcome per entry, in order.

    A key repeated inside the same request is a replay of its first occurrence (or
    ``idempotency_key_reused`` if the bodies differ), exactly as if it had been sent again.
    Payments whose message could not be enqueued are rejected with a retryable error and their
    idempotency records released, so sending the same key again works.

    The idempotency records expire after a day, but the transaction id is derived from the key, so
    a key used again later names a transaction that already exists. Before queueing, each claimed
    key is looked up there: the same body is a replay (and its idempotency record is written
    again), another body is ``idempotency_key_reused``. Without this the API would answer 202 for
    a payment the consumer then refuses as a conflict.
    """
    outcomes: list[Outcome | None] = [None] * len(entries)
    firsts: dict[str, tuple[int, IdempotentRequest]] = {}
    repeats: list[tuple[int, IdempotentRequest]] = []
    for index, entry in enumerate(entries):
        if entry.error is not None or entry.payment is None or entry.idempotency_key is None:
            error = entry.error or InvalidRequest("idempotency_key is required", field="idempotency_key")
            outcomes[index] = _rejected(index, entry.idempotency_key, error)
            continue
        request = IdempotentRequest(submitter, entry.idempotency_key, entry.payment)
        if request.idempotency_key in firsts:
            repeats.append((index, request))
        else:
            firsts[request.idempotency_key] = (index, request)

    claimed = list(firsts.values())
    claims = idempotency.claim([request for _, request in claimed]) if claimed else []
    new: list[tuple[int, IdempotentRequest]] = []
    for (index, request), claim in zip(claimed, claims, strict=True):
        outcome = _claim_outcome(index, request, claim, key_field)
        if outcome is None:
            new.append((index, request))
        else:
            outcomes[index] = outcome

    if new:
        new = _without_recorded(new, outcomes, idempotency, recorded, key_field)

    if new:
        messages = [
            PaymentMessage(
                transaction_id=request.transaction_id,
                submitter=submitter,
                idempotency_key=request.idempotency_key,
                payload_hash=request.payload_hash,
                received_at=received_at,
                payment=request.payment,
            )
            for _, request in new
        ]
        failed = queue.send(messages)
        enqueued = [(i, r) for i, r in new if r.transaction_id not in failed]
        refused = [(i, r) for i, r in new if r.transaction_id in failed]
        if refused:
            idempotency.release([request for _, request in refused])
        for index, request in refused:
            error = EnqueueFailed("the payment could not be queued; retry with the same idempotency key")
            outcomes[index] = _rejected(index, request.idempotency_key, error, request.transaction_id)
        if enqueued:
            idempotency.complete([(request, recorded_response(request)) for _, request in enqueued])
        for index, request in enqueued:
            body = {**recorded_response(request)["body"], "replayed": False}
            outcomes[index] = Outcome(
                index, request.idempotency_key, "accepted", transaction_id=request.transaction_id, body=body
            )

    for index, request in repeats:
        first_index, first = firsts[request.idempotency_key]
        earlier = outcomes[first_index]
        assert earlier is not None
        if request.payload_hash != first.payload_hash:
            outcomes[index] = _rejected(index, request.idempotency_key, _key_reused(key_field))
        elif earlier.status == "rejected" and earlier.error is not None:
            outcomes[index] = _rejected(index, request.idempotency_key, earlier.error, earlier.transaction_id)
        else:
            outcomes[index] = _replayed(index, request, recorded_response(request))

    return [outcome for outcome in outcomes if outcome is not None]


# ------------------------------------------------------------------------------------------ consuming


class IngestResult(StrEnum):
    WORKFLOW_SUCCEEDED = "workflow_succeeded"
    ALREADY_FINAL = "already_final"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class Ingested:
    result: IngestResult
    created: bool


@dataclass(frozen=True)
class WorkflowRun:
    status: str
    error: str | None = None


class TransactionsPort(Protocol):
    def create(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """Put the item if absent: None when this call created it, else the item that stood."""
        ...

    def get(self, transaction_id: str) -> dict[str, Any] | None: ...


class AuditPort(Protocol):
    def append(self, event: AuditEvent, *, at: datetime | None = None) -> bool: ...


class WorkflowPort(Protocol):
    def run(self, name: str, payload: dict[str, Any], *, timeout_seconds: float) -> WorkflowRun: ...


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


def ingest_message(
    message: PaymentMessage,
    *,
    receive_count: int,
    transactions: TransactionsPort,
    audit: AuditPort,
    workflow: WorkflowPort,
    completion: CompletionPort,
    remaining_seconds: Callable[[], float],
    now: Callable[[], datetime],
) -> Ingested:
    """Record the transaction once and run its workflow to an outcome.

    Raises ``WorkflowFailed`` (or ``DependencyError``) when the record must go back to the queue:
    SQS delivers it again, and after five receives it lands in the DLQ.
    """
    existing = transactions.create(transaction_item(message))
    if existing is not None and existing.get("payload_hash") != message.payload_hash:
        audit.append(
            AuditEvent(
                transaction_id=message.transaction_id,
                step="ingest",
                event="conflict",
                action="payment.conflict",
                actor=ACTOR,
                detail={
                    "idempotency_key": message.idempotency_key,
                    "payload_hash": message.payload_hash,
                    "recorded_payload_hash": existing.get("payload_hash"),
                },
                outcome="CONFLICT",
            ),
            at=now(),
        )
        return Ingested(IngestResult.CONFLICT, created=False)

    # Written on duplicates too: a crash between the put and this row must not lose it. The row's key
    # and time derive from the message, so it lands once and counts once.
    payment = message.payment
    audit.append(
        AuditEvent(
            transaction_id=message.transaction_id,
            step="ingest",
            event="received",
            action="payment.received",
            actor=ACTOR,
            detail={
                "merchant_id": payment.merchant_id,
                "amount": format_amount(payment.amount, payment.currency),
                "currency": payment.currency,
                "submitter": message.submitter,
            },
            outcome=Status.RECEIVED.value,
        ),
        at=parse_iso(message.received_at),
    )

    # A final status is not enough to drop the message: a crash or a dependency error after the
    # status write can have left the archive object or the last audit row out. Only a payment
    # whose completion marker exists is done; any other re-runs the workflow, which completes it.
    status = (existing or {}).get("status", Status.RECEIVED.value)
    if status in FINAL_STATUSES and completion.is_complete(message.transaction_id, Status(status)):
        return Ingested(IngestResult.ALREADY_FINAL, created=existing is None)

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
    return Ingested(IngestResult.WORKFLOW_SUCCEEDED, created=existing is None)


# ------------------------------------------------------------------------------------------ reading


def _strings(value: Any) -> Any:
    """Numbers inside stored maps as exact decimal strings; JSON clients never see a binary float."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: _strings(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_strings(item) for item in value]
    return value


def owned_transaction(submitter: str, tid: str, transactions: TransactionsPort) -> dict[str, Any]:
    """The transaction item if it exists and this submitter created it; 404 otherwise.

    Another submitter's transaction is reported exactly like a missing one, so its existence never leaks.
    """
    item = transactions.get(tid) if _is_uuid(tid) else None
    if not item or item.get("submitter") != submitter:
        raise TransactionNotFound(NOT_VISIBLE_YET)
    return item


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


def _text(value: Any) -> str | None:
    return None if value is None else str(_strings(value))


def _map(value: Any) -> dict[str, Any] | None:
    return _strings(value) if isinstance(value, dict) else None


def payment_view(item: dict[str, Any]) -> dict[str, Any]:
    """The GET /payments/{id} body for a transaction item.

    Tolerant of what older code stored: a field of an unexpected type is shown as text or left
    out, never a failed read.
    """
    currency = str(item.get("currency", ""))
    amount = item.get("amount")
    try:
        shown_amount = format_amount(Decimal(amount), currency) if amount is not None else ""
    except (PaymentsError, ArithmeticError, TypeError, ValueError):
        shown_amount = str(amount)
    card = item.get("payment_method")
    failure = item.get("failure")
    reasons = item.get("decline_reasons")
    status = item.get("status")
    return {
        "transaction_id": item["transaction_id"],
        "status": status if status in Status.__members__ else Status.RECEIVED.value,
        "amount": shown_amount,
        "currency": currency,
        "merchant_id": str(item.get("merchant_id", "")),
        "reference": _text(item.get("reference")),
        "customer_id": _text(item.get("customer_id")),
        "payment_method": (
            {key: _text(card[key]) for key in ("type", "brand", "last4", "country") if key in card}
            if isinstance(card, dict) and "type" in card
            else None
        ),
        "decline_reasons": [str(r) for r in _strings(list(reasons))]
        if isinstance(reasons, list | set)
        else [],
        "validation": _map(item.get("validation")),
        "fraud": _map(item.get("fraud")),
        "settlement": _map(item.get("settlement")),
        # The cause can carry a stack trace from inside the workflow; only the error name goes out.
        "failure": {"error": _text(failure.get("error"))} if isinstance(failure, dict) else None,
        "created_at": str(item.get("created_at", "")),
        "updated_at": str(item.get("updated_at", item.get("created_at", ""))),
    }


def audit_events(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [_strings(row) for row in rows]


@dataclass(frozen=True)
class AuditWindow:
    start: datetime
    end: datetime


def audit_window(start: str | None, end: str | None, *, now: datetime) -> AuditWindow:
    """``from``/``to`` as ISO-8601; both optional, defaulting to the last hour up to now."""
    # An empty value is a bad timestamp, not an absent one.
    until = _parse_when(end, "to") if end is not None else now
    since = _parse_when(start, "from") if start is not None else until - DEFAULT_AUDIT_WINDOW
    return AuditWindow(since, until)


def _parse_when(text: str, name: str) -> datetime:
    try:
        moment = parse_iso(text).astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidRequest(f"'{name}' must be an ISO-8601 timestamp", field=name) from None
    # Far-off years would overflow the date arithmetic of the window and the day-by-day read.
    if not AUDIT_EARLIEST <= moment <= AUDIT_LATEST:
        raise InvalidRequest(f"'{name}' must be between 1970 and 9000", field=name)
    return moment


def check_day(day: str) -> str:
    try:
        datetime.strptime(day, "%Y-%m-%d")
    except ValueError:
        raise InvalidRequest("'day' must be a date as YYYY-MM-DD", field="day") from None
    return day
