"""Accepting payments idempotently: each new valid payment is queued once; the rest replay or are refused.

Idempotency follows Stripe. A request is identified by (submitter, idempotency key) and its body
by the canonical payment document, so ``"12.3"`` and ``12.30`` for USD are the same body:

* first time: the payment is queued (``replayed: false``);
* same key, same body: the receipt is replayed with ``replayed: true``;
* same key, other body: ``idempotency_key_reused``.

The receipt derives from the transaction id, so the claim records it and nothing is written
after the send (``ingest_svc.dal.idempotency``). A repeat can therefore find the key claimed
while the first request is still sending, or after one that crashed before its send: a replay
whose transaction the consumer has not recorded yet sends the payment's message itself before it
answers (the consumer's conditional put drops the copy), so no replay answers for a payment
nobody queued, and none waits or is refused for another request's sake.

A single POST and every batch item take the same path, so a key used in a batch replays on a
single POST and the other way round. Downstream deduplication does not depend on the records'
lifetime: the transaction id is derived from the same (submitter, key), and the consumer's
conditional put refuses a second item for it.

Accepting is a few named steps over one :class:`Submission`: claim the keys, look up which of the
claimed and replayed payments are already recorded, enqueue the rest, answer the keys repeated
inside the request. The claims are held in one scope (:func:`held_claims`) that releases every
claim still open when a step fails.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ingest_svc.logic.ports import (
    Claim,
    ClaimState,
    IdempotencyPort,
    IdempotentRequest,
    QueuePort,
    RecordedPort,
)
from payments_core.errors import (
    DependencyError,
    EnqueueFailed,
    IdempotencyKeyReused,
    InvalidRequest,
    PaymentsError,
)
from payments_core.models import Payment, PaymentMessage

# The field an idempotency-key error names; the API handler renames it where the key is a header.
KEY_FIELD: Final[str] = "idempotency_key"

AcceptanceStatus = Literal["accepted", "replayed", "rejected"]


@dataclass(frozen=True)
class Entry:
    """One submitted payment after validation: a payment to accept, or why it was refused."""

    idempotency_key: str | None
    payment: Payment | None = None
    error: PaymentsError | None = None


@dataclass(frozen=True)
class Acceptance:
    """What became of one submitted payment; ``receipt`` is what its first acceptance answered."""

    index: int
    idempotency_key: str | None
    status: AcceptanceStatus
    transaction_id: str | None = None
    error: PaymentsError | None = None
    receipt: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AcceptPorts:
    idempotency: IdempotencyPort
    queue: QueuePort
    recorded: RecordedPort


def receipt(request: IdempotentRequest) -> dict[str, Any]:
    """What accepting this request answers, and what a replay of it answers again."""
    return {"transaction_id": request.transaction_id, "status": "ACCEPTED"}


@dataclass(frozen=True)
class Slot:
    """A valid payment's place in the submission."""

    index: int
    request: IdempotentRequest


class Submission:
    """One request's payments on their way through the steps; each ends with one Acceptance."""

    def __init__(self, submitter: str, entries: Sequence[Entry]) -> None:
        self._decided: dict[int, Acceptance] = {}
        self.firsts: dict[str, Slot] = {}
        self.repeats: list[Slot] = []
        for index, entry in enumerate(entries):
            if entry.error is not None or entry.payment is None or entry.idempotency_key is None:
                error = entry.error or InvalidRequest("idempotency_key is required", field=KEY_FIELD)
                self.reject(index, entry.idempotency_key, error)
                continue
            slot = Slot(index, IdempotentRequest(submitter, entry.idempotency_key, entry.payment))
            if slot.request.idempotency_key in self.firsts:
                self.repeats.append(slot)
            else:
                self.firsts[slot.request.idempotency_key] = slot

    def decide(self, acceptance: Acceptance) -> None:
        self._decided[acceptance.index] = acceptance

    def reject(self, index: int, key: str | None, error: PaymentsError, tid: str | None = None) -> None:
        self.decide(Acceptance(index, key, "rejected", transaction_id=tid, error=error))

    def replay(self, slot: Slot, recorded: dict[str, Any] | None = None) -> None:
        shown = {**(recorded or receipt(slot.request)), "replayed": True}
        tid = shown.get("transaction_id", slot.request.transaction_id)
        self.decide(Acceptance(slot.index, slot.request.idempotency_key, "replayed", tid, receipt=shown))

    def accept(self, slot: Slot) -> None:
        shown = {**receipt(slot.request), "replayed": False}
        tid = slot.request.transaction_id
        self.decide(Acceptance(slot.index, slot.request.idempotency_key, "accepted", tid, receipt=shown))

    def decided(self, index: int) -> Acceptance:
        return self._decided[index]

    def acceptances(self) -> list[Acceptance]:
        return [self._decided[index] for index in sorted(self._decided)]


class HeldClaims:
    """The claims this request holds, each kept or released exactly once; and the replays whose
    payment may still need queueing by this request."""

    def __init__(self, idempotency: IdempotencyPort, slots: Sequence[Slot], replays: Sequence[Slot]) -> None:
        self._idempotency = idempotency
        self._open = {slot.index: slot for slot in slots}
        self.replays = list(replays)

    @property
    def slots(self) -> list[Slot]:
        return list(self._open.values())

    def keep(self, slots: Sequence[Slot]) -> None:
        """The claim stays: its record already holds what a repeat is answered."""
        self._close(slots)

    def release(self, slots: Sequence[Slot]) -> None:
        if slots:
            self._idempotency.release([slot.request for slot in slots])
            self._close(slots)

    def _close(self, slots: Sequence[Slot]) -> None:
        for slot in slots:
            del self._open[slot.index]


def _claim_refusal(claim: Claim) -> PaymentsError | None:
    if claim.state is ClaimState.REUSED:
        return _key_reused()
    if claim.state is ClaimState.UNAVAILABLE:
        return DependencyError("the idempotency store is unavailable; retry")
    return None


def _key_reused() -> IdempotencyKeyReused:
    return IdempotencyKeyReused(
        "this idempotency key was already used with a different body", field=KEY_FIELD
    )


@contextmanager
def held_claims(submission: Submission, idempotency: IdempotencyPort) -> Iterator[HeldClaims]:
    """Claim the first occurrence of every key; hold the new ones until the block ends.

    Keys refused here are decided here; keys already claimed with the same body are replays, held
    until their payment is known to be queued. A claim still open when the block ends, by an
    error above all, is released at once, so that the client's retry claims the key afresh.
    """
    slots = list(submission.firsts.values())
    claims = idempotency.claim([slot.request for slot in slots]) if slots else []
    new: list[Slot] = []
    replays: list[Slot] = []
    for slot, claim in zip(slots, claims, strict=True):
        refusal = _claim_refusal(claim)
        if claim.state is ClaimState.COMPLETED:
            replays.append(slot)
        elif refusal is not None:
            tid = None if claim.state is ClaimState.REUSED else slot.request.transaction_id
            submission.reject(slot.index, slot.request.idempotency_key, refusal, tid)
        else:
            new.append(slot)
    held = HeldClaims(idempotency, new, replays)
    try:
        yield held
    finally:
        held.release(held.slots)


def skip_recorded(submission: Submission, held: HeldClaims, recorded: RecordedPort) -> None:
    """Decide the payments whose transaction exists already, claimed or replayed, in one lookup.

    A new claim whose transaction exists had its key's record expire: the same body replays the
    transaction (the new claim records it again), another body is ``idempotency_key_reused``.
    Without this the API would answer "accepted" for a payment the consumer then refuses as a
    conflict. A replay whose transaction exists is answered; one whose transaction does not exist
    yet stays held, to be queued again by :func:`enqueue`.
    """
    looked_up = [*held.slots, *held.replays]
    if not looked_up:
        return
    hashes = recorded.payload_hashes([slot.request.transaction_id for slot in looked_up])
    if not hashes:
        return

    def same(slot: Slot) -> bool:
        return hashes[slot.request.transaction_id] == slot.request.payload_hash

    found = [slot for slot in held.slots if slot.request.transaction_id in hashes]
    replays = [slot for slot in found if same(slot)]
    conflicts = [slot for slot in found if not same(slot)]
    held.keep(replays)
    held.release(conflicts)
    for slot in replays:
        submission.replay(slot)
    for slot in conflicts:
        submission.reject(slot.index, slot.request.idempotency_key, _key_reused())
    answered = [slot for slot in held.replays if slot.request.transaction_id in hashes]
    held.replays = [slot for slot in held.replays if slot.request.transaction_id not in hashes]
    for slot in answered:
        if same(slot):
            submission.replay(slot)
        else:
            submission.reject(slot.index, slot.request.idempotency_key, _key_reused())


def enqueue(
    submission: Submission, held: HeldClaims, queue: QueuePort, *, submitter: str, received_at: str
) -> None:
    """Queue every payment still held, and every replay not recorded yet.

    A new payment the queue refused is rejected and its key released. A replay the queue refused
    is rejected as retryable and its key kept: the claim is another request's.
    """
    slots, replays = held.slots, held.replays
    if not slots and not replays:
        return
    failed = queue.send([_message(slot.request, submitter, received_at) for slot in (*slots, *replays)])
    error = EnqueueFailed("the payment could not be queued; retry with the same idempotency key")
    refused = [slot for slot in slots if slot.request.transaction_id in failed]
    held.release(refused)
    enqueued = [slot for slot in slots if slot.request.transaction_id not in failed]
    held.keep(enqueued)
    held.replays = []
    for slot in (*refused, *(slot for slot in replays if slot.request.transaction_id in failed)):
        submission.reject(slot.index, slot.request.idempotency_key, error, slot.request.transaction_id)
    for slot in enqueued:
        submission.accept(slot)
    for slot in replays:
        if slot.request.transaction_id not in failed:
            submission.replay(slot)


def _message(request: IdempotentRequest, submitter: str, received_at: str) -> PaymentMessage:
    return PaymentMessage(
        transaction_id=request.transaction_id,
        submitter=submitter,
        idempotency_key=request.idempotency_key,
        payload_hash=request.payload_hash,
        received_at=received_at,
        payment=request.payment,
    )


def answer_repeats(submission: Submission) -> None:
    """A key repeated inside the request is a replay of its first occurrence, or a reuse."""
    for slot in submission.repeats:
        first = submission.firsts[slot.request.idempotency_key]
        earlier = submission.decided(first.index)
        if slot.request.payload_hash != first.request.payload_hash:
            submission.reject(slot.index, slot.request.idempotency_key, _key_reused())
        elif earlier.status == "rejected" and earlier.error is not None:
            submission.reject(slot.index, slot.request.idempotency_key, earlier.error, earlier.transaction_id)
        else:
            submission.replay(slot)


def accept_payments(
    submitter: str,
    entries: Sequence[Entry],
    ports: AcceptPorts,
    *,
    received_at: str,
) -> list[Acceptance]:
    """Queue every new valid payment once; replay or reject the rest. One Acceptance per entry, in order.

    A key repeated inside the same request is a replay of its first occurrence (or
    ``idempotency_key_reused`` if the bodies differ), exactly as if it had been sent again.
    Payments whose message could not be enqueued are rejected with a retryable error and their
    idempotency records released, so sending the same key again works.
    """
    submission = Submission(submitter, entries)
    with held_claims(submission, ports.idempotency) as held:
        skip_recorded(submission, held, ports.recorded)
        enqueue(submission, held, ports.queue, submitter=submitter, received_at=received_at)
    answer_repeats(submission)
    return submission.acceptances()


def accept_payment(
    submitter: str,
    idempotency_key: str,
    payment: Payment,
    ports: AcceptPorts,
    *,
    received_at: str,
) -> Acceptance:
    """One payment under its key: the same rules as a batch item, so keys replay across both."""
    (acceptance,) = accept_payments(
        submitter,
        [Entry(idempotency_key, payment)],
        ports,
        received_at=received_at,
    )
    return acceptance
