"""What ingest's rules need of the outside world: one Protocol per port, and the values they pass.

A port's Protocol ends in ``Port``; its adapter in ``ingest_svc.dal`` is named for what it is.
The audit and completion ports are shared by every service (``payments_core``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from payments_core.ids import payload_hash, transaction_id
from payments_core.models import Payment, PaymentMessage


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
    REUSED = "reused"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Claim:
    """What the idempotency store said about a request: ours to run, a replay, or refused."""

    state: ClaimState


@dataclass(frozen=True)
class WorkflowRun:
    status: str
    error: str | None = None


class IdempotencyPort(Protocol):
    def claim(self, requests: Sequence[IdempotentRequest]) -> list[Claim]:
        """Record each request's key and body unless the key is taken; one Claim per request, in order.

        A claim is final when written: a repeat of the key replays it. Never raises per item.
        """
        ...

    def release(self, requests: Sequence[IdempotentRequest]) -> None:
        """Forget the records of requests that did not go through, so that a retry claims afresh."""
        ...


class QueuePort(Protocol):
    def send(self, messages: Sequence[PaymentMessage]) -> set[str]:
        """Enqueue the messages; the transaction ids of those that could not be enqueued."""
        ...


class RecordedPort(Protocol):
    def payload_hashes(self, transaction_ids: Sequence[str]) -> dict[str, str]:
        """The payload hash of each of these transactions that the queue consumer has recorded."""
        ...


class TransactionsPort(Protocol):
    def create(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """Put the item if absent: None when this call created it, else the item that stood."""
        ...

    def get(self, transaction_id: str) -> dict[str, Any] | None: ...


class WorkflowPort(Protocol):
    def run(self, name: str, payload: dict[str, Any], *, timeout_seconds: float) -> WorkflowRun: ...
