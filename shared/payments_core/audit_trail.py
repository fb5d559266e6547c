"""The audit trail, derived from the transactions table's stream: the rows of each state change.

Every state change of a payment is one conditional write to its transaction item, so it is one
record of the table's stream, and a write its guard refused is none. The rows a record stands
for are a function of its new image alone, keys and contents:

- RECEIVED (ingest's put): ``ingest#received``, at ``created_at``;
- SETTLED or DECLINED: ``validation#completed`` and ``fraud#completed``, at their
  ``checked_at``, then ``settlement#settled`` or ``settlement#declined``, at ``updated_at``;
- FAILED: ``settlement#failed#<execution>``, one per attempt, at ``updated_at``.

The checks' results reach the item with the final status, in the same write: a check that ran in
an attempt that ended before it was recorded changed nothing, and leaves no row.

So a redelivered record, or a batch retried after a crash, writes the same rows again, identical:
``BatchWriteItem``, 25 rows a call, needs neither a condition nor a high-water mark, and the
audit stream's INSERT records (what the daily counters add up) still hold each row once. A
state change reaches the trail as surely as the stream delivers it: the event source retries a
batch until it lands.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from payments_core.audit import AuditEvent, AuditTable, audit_row
from payments_core.dynamo import deserialize
from payments_core.money import format_amount
from payments_core.status import Status

# The settlement's fields that the settled row shows, amounts in the currency's canonical form.
SETTLEMENT_FIELDS: Final = ("amount", "currency", "fee", "net", "settled_at")
_AMOUNT_FIELDS: Final = frozenset({"amount", "fee", "net"})
_CHECK_ACTIONS: Final = {
    "validation": {"PASS": "validation.passed", "FAIL": "validation.failed"},
    "fraud": {"APPROVE": "fraud.approved", "DECLINE": "fraud.declined"},
}


def settlement_view(settlement: Mapping[str, Any]) -> dict[str, Any]:
    """The settlement's shown fields, amounts as the currency's canonical strings."""
    currency = str(settlement["currency"])
    return {
        name: format_amount(settlement[name], currency) if name in _AMOUNT_FIELDS else settlement[name]
        for name in SETTLEMENT_FIELDS
    }


def _event(
    item: Mapping[str, Any], step: str, event: str, action: str, detail: dict[str, Any], outcome: str
) -> AuditEvent:
    return AuditEvent(
        transaction_id=str(item["transaction_id"]),
        step=step,
        event=event,
        action=action,
        actor=step,
        detail=detail,
        outcome=outcome,
    )


def _received(item: Mapping[str, Any]) -> Iterator[tuple[AuditEvent, str]]:
    currency = str(item["currency"])
    detail = {
        "merchant_id": item.get("merchant_id"),
        "amount": format_amount(item["amount"], currency),
        "currency": currency,
        "submitter": item.get("submitter"),
    }
    yield (
        _event(item, "ingest", "received", "payment.received", detail, Status.RECEIVED.value),
        str(item["created_at"]),
    )


def _checks(item: Mapping[str, Any]) -> Iterator[tuple[AuditEvent, str]]:
    for step, actions in _CHECK_ACTIONS.items():
        check = item.get(step)
        if (
            not isinstance(check, Mapping)
            or check.get("outcome") not in actions
            or not check.get("checked_at")
        ):
            continue
        outcome = str(check["outcome"])
        detail: dict[str, Any] = {"outcome": outcome, "reasons": list(check.get("reasons") or [])}
        if step == "fraud":
            detail = {"outcome": outcome, "score": check.get("score"), "reasons": detail["reasons"]}
        yield _event(item, step, "completed", actions[outcome], detail, outcome), str(check["checked_at"])


def _final(item: Mapping[str, Any], status: Status) -> Iterator[tuple[AuditEvent, str]]:
    yield from _checks(item)
    at = str(item["updated_at"])
    if status is Status.SETTLED:
        detail = settlement_view(item["settlement"])
        yield _event(item, "settlement", "settled", "payment.settled", detail, status.value), at
    else:
        detail = {"reasons": list(item.get("decline_reasons") or [])}
        yield _event(item, "settlement", "declined", "payment.declined", detail, status.value), at


def _failed(item: Mapping[str, Any]) -> Iterator[tuple[AuditEvent, str]]:
    failure = item.get("failure") or {}
    execution = failure.get("execution")
    event = f"failed#{execution}" if execution else "failed"
    detail = {"error": failure.get("error"), "cause": failure.get("cause")}
    yield (
        _event(item, "settlement", event, "payment.failed", detail, Status.FAILED.value),
        str(item["updated_at"]),
    )


def state_change_events(item: Mapping[str, Any]) -> list[tuple[AuditEvent, str]]:
    """The audit events of the state change that left the item as it is, each with its time."""
    try:
        status = Status(str(item.get("status")))
    except ValueError:
        return []
    if not item.get("transaction_id"):
        return []
    if status is Status.RECEIVED:
        return list(_received(item))
    if status is Status.FAILED:
        return list(_failed(item))
    return list(_final(item, status))


@dataclass(frozen=True)
class Trail:
    rows: list[dict[str, Any]]
    # Items whose image a state change cannot have left (a field missing, a hand edit): skipped,
    # so that one of them does not hold up every later row of its stream shard.
    unreadable: list[str]


def trail_rows(records: list[dict[str, Any]], shards: int) -> Trail:
    """Every audit row the stream records stand for."""
    rows: list[dict[str, Any]] = []
    unreadable: list[str] = []
    for record in records:
        image = deserialize(record.get("dynamodb", {}).get("NewImage") or {})
        try:
            rows += [audit_row(event, at, shards) for event, at in state_change_events(image)]
        except (KeyError, TypeError, ValueError, ArithmeticError):
            unreadable.append(str(image.get("transaction_id", "?")))
    return Trail(rows, unreadable)


class AuditTrail(AuditTable):
    """Writes the derived rows. Each row's content is fixed by its key, so a put that lands twice
    writes the same row."""

    def derive(self, records: list[dict[str, Any]]) -> Trail:
        """The rows of these stream records, keyed for this table's shard count."""
        return trail_rows(records, self._shards)

    def write(self, trail: Trail) -> int:
        """Write the rows; the number of distinct rows."""
        return self._put_batch(trail.rows, ("pk", "sk"), "audit trail write")
