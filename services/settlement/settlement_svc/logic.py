"""Settle, decline or record the failure of a payment; every action is safe to run again.

``settle`` writes the settlement record (conditional put) and the SETTLED status (forward-only
guard) in one DynamoDB transaction, so a decline that wins the race leaves no settlement record
behind and a record never exists without its status. The audit row (write-once) follows. Nothing
is read first: the transaction's own conditions refuse a payment that is not open, and the
refused items come back with the error. A crash at any point is safe to retry: a re-run finds
the transaction already done, gets the earlier record back from the refused write, and
completes the audit row with it, returning the same result.

The archive entry is not written here: it is derived from the SETTLED status through the
transactions table's stream (``settlement_svc.archiving``), so the status change is the one
write it depends on, and many settlements share one S3 object.

Fee schedule (illustrative card pricing): ``fee = amount * 2.9% + fixed fee``, rounded half-even
to the currency's minor units and capped at the amount; ``net = amount - fee``. So fee and net are
both exact in minor units and always add up to the amount.

| Currency | Fixed fee |
|---|---|
| USD, CHF, CAD, AUD | 0.30 |
| EUR | 0.25 |
| GBP | 0.20 |
| SEK | 2.50 |
| JPY | 30 |
| KRW | 300 |
| KWD, BHD | 0.100 |
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, Final

from payments_core.audit import AuditEvent
from payments_core.clock import iso
from payments_core.errors import DependencyError, StatusTransitionRejected, TransactionNotFound
from payments_core.money import format_amount, minor_units
from payments_core.status import Status
from settlement_svc.fees import FEE_RATE, FIXED_FEE
from settlement_svc.models import Checks, DeclineRequest, FailRequest, SettleRequest
from settlement_svc.ports import LedgerWrite, SettlementPorts

if TYPE_CHECKING:
    pass

STEP: Final = "settlement"
ACTOR: Final = "settlement"

MAX_CAUSE_CHARS: Final = 512
MAX_ERROR_CHARS: Final = 128
REDACTED: Final = "[redacted]"
# Long digit runs could be card or account numbers; pydantic echoes offending input after input_value=.
_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d){11,}")
_INPUT_VALUE = re.compile(r"input_value=(?:'[^']*'|\"[^\"]*\"|\{[^}]*\}|\[[^\]]*\]|[^,\s\]]+)")


# ---------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Fee:
    fee: Decimal
    net: Decimal


def settlement_fee(amount: Decimal, currency: str) -> Fee:
    """The fee schedule above: exact in minor units, never more than the amount."""
    unit = Decimal(1).scaleb(-minor_units(currency))
    gross = amount.quantize(unit, rounding=ROUND_HALF_EVEN)
    fee = (gross * FEE_RATE + FIXED_FEE[currency]).quantize(unit, rounding=ROUND_HALF_EVEN)
    fee = min(fee, gross)
    return Fee(fee=fee, net=gross - fee)


def decline_reasons(checks: Checks) -> list[str]:
    """Validation's reasons when it failed, then fraud's when it declined (marked as such), no duplicates."""
    reasons: list[str] = []
    if checks.validation and checks.validation.outcome == "FAIL":
        reasons += checks.validation.reasons
    if checks.fraud and checks.fraud.outcome == "DECLINE":
        reasons += ["fraud_risk_too_high", *checks.fraud.reasons]
    return list(dict.fromkeys(reasons)) or ["unspecified"]


def _sensitive_values(payment: Mapping[str, Any] | None) -> set[str]:
    def mapping(value: Any) -> Mapping[str, Any]:
        return value if isinstance(value, Mapping) else {}

    document = mapping(payment)
    method, customer = mapping(document.get("payment_method")), mapping(document.get("customer"))
    metadata = mapping(document.get("metadata"))
    values = [method.get("token"), document.get("reference"), customer.get("id"), *metadata.values()]
    return {v for v in values if isinstance(v, str) and len(v) >= 4}


def redact(text: str, payment: Mapping[str, Any] | None = None) -> str:
    """Remove payment data from an error text: the payment's identifiers, digit runs, echoed input."""
    for value in sorted(_sensitive_values(payment), key=len, reverse=True):
        text = text.replace(value, REDACTED)
    text = _INPUT_VALUE.sub(f"input_value={REDACTED}", text)
    return _DIGIT_RUN.sub(REDACTED, text)


def _summarise_cause(cause: Any) -> str:
    """A Lambda error's Cause is JSON with a stack trace; keep its type and message only."""
    if not isinstance(cause, str):
        return "" if cause is None else json.dumps(cause, default=str, sort_keys=True)
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(parsed, dict) and ("errorMessage" in parsed or "errorType" in parsed):
        return ": ".join(str(parsed[k]) for k in ("errorType", "errorMessage") if parsed.get(k))
    return cause


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_failure(request: FailRequest) -> dict[str, str]:
    """``{"error", "cause"}`` from whichever branch or task failed, redacted and truncated."""
    errored = [
        (branch, check)
        for branch, check in (
            ("validation", request.checks and request.checks.validation),
            ("fraud", request.checks and request.checks.fraud),
        )
        if check and check.outcome == "ERROR"
    ]
    if errored:
        error = ", ".join(dict.fromkeys(check.error or "Unknown" for _, check in errored))
        cause = "; ".join(
            f"{branch}: {check.error or 'Unknown'}: {_summarise_cause(check.cause)}"
            for branch, check in errored
        )
    elif isinstance(request.error, Mapping):
        error = str(request.error.get("Error") or request.error.get("error") or "Unknown")
        cause = _summarise_cause(request.error.get("Cause", request.error.get("cause")))
    else:
        error, cause = "Unknown", _summarise_cause(request.error)
    return {
        "error": _truncate(redact(error, request.payment), MAX_ERROR_CHARS),
        "cause": _truncate(redact(cause, request.payment), MAX_CAUSE_CHARS),
    }


@dataclass(frozen=True)
class Outcome:
    transaction_id: str
    status: Status
    detail: dict[str, Any] = field(default_factory=dict)
    # False when an earlier run already wrote this step's audit row (or, for fail, nothing was written).
    first_time: bool = True


# ---------------------------------------------------------------------------- actions


# The settlement record's fields that the transaction item and the step's result carry.
SETTLEMENT_FIELDS: Final = ("amount", "currency", "fee", "net", "settled_at")
_AMOUNT_FIELDS: Final = frozenset({"amount", "fee", "net"})


def _settlement_view(settlement: Mapping[str, Any]) -> dict[str, Any]:
    """The settlement with its amounts as the currency's canonical strings."""
    currency = settlement["currency"]
    return {
        name: format_amount(value, currency) if name in _AMOUNT_FIELDS else value
        for name, value in settlement.items()
    }


def _settled_before(
    transaction_id: str, write: LedgerWrite, deps: SettlementPorts, now: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The record and settlement of a refused settle write, which wrote nothing: an earlier run's."""
    if write.status_refused and write.status is None:
        raise TransactionNotFound(f"transaction {transaction_id} has not been received")
    if write.status_refused and write.status != Status.SETTLED:
        raise StatusTransitionRejected(
            f"transaction {transaction_id} is {write.status} and cannot be settled"
        )
    if write.earlier is None:
        # SETTLED without a record: no run of this step leaves that, so someone edited the table.
        raise DependencyError(f"transaction {transaction_id} is SETTLED but has no settlement record")
    record = write.earlier
    settlement = {name: record[name] for name in SETTLEMENT_FIELDS}
    if not write.status_refused:
        # A record whose status never moved: written before record and status went together.
        moved = deps.transactions.transition(transaction_id, Status.SETTLED, {"settlement": settlement}, now)
        if not moved.applied and moved.status != Status.SETTLED:
            raise StatusTransitionRejected(
                f"transaction {transaction_id} is {moved.status} and cannot be settled"
            )
    return record, settlement


def settle(request: SettleRequest, deps: SettlementPorts) -> Outcome:
    transaction_id = request.transaction_id
    payment = request.payment
    now = iso(deps.clock())
    charge = settlement_fee(payment.amount, payment.currency)
    record: dict[str, Any] = {
        "transaction_id": transaction_id,
        "merchant_id": payment.merchant_id,
        "reference": payment.reference,
        "amount": payment.amount,
        "currency": payment.currency,
        "fee": charge.fee,
        "net": charge.net,
        "fee_rate": str(FEE_RATE),
        "fixed_fee": FIXED_FEE[payment.currency],
        "received_at": request.received_at,
        "settled_at": now,
    }
    settlement = {name: record[name] for name in SETTLEMENT_FIELDS}
    write = deps.ledger.settle(record, settlement, now)
    if not write.applied:
        record, settlement = _settled_before(transaction_id, write, deps, now)
    view = _settlement_view(settlement)
    first_time = deps.audit.append(
        AuditEvent(
            transaction_id=transaction_id,
            step=STEP,
            event="settled",
            action="payment.settled",
            actor=ACTOR,
            detail=view,
            outcome=Status.SETTLED.value,
        )
    )
    return Outcome(transaction_id, Status.SETTLED, {"settlement": view}, first_time)


def decline(request: DeclineRequest, deps: SettlementPorts) -> Outcome:
    transaction_id = request.transaction_id
    reasons = decline_reasons(request.checks)
    write = deps.transactions.transition(
        transaction_id, Status.DECLINED, {"decline_reasons": reasons}, iso(deps.clock())
    )
    if not write.applied:
        if write.status != Status.DECLINED:
            raise StatusTransitionRejected(
                f"transaction {transaction_id} is {write.status} and cannot be declined"
            )
        reasons = list((write.item or {}).get("decline_reasons") or reasons)
    first_time = deps.audit.append(
        AuditEvent(
            transaction_id=transaction_id,
            step=STEP,
            event="declined",
            action="payment.declined",
            actor=ACTOR,
            detail={"reasons": reasons},
            outcome=Status.DECLINED.value,
        )
    )
    return Outcome(transaction_id, Status.DECLINED, {"decline_reasons": reasons}, first_time)


def record_failure(request: FailRequest, deps: SettlementPorts) -> Outcome:
    """FAILED with ``{error, cause}``; a transaction already SETTLED or DECLINED is left as it is.

    ``complete`` in the result says whether the payment is done. For FAILED it never is. For a
    status another attempt already made final it is whether every effect of that status exists:
    the workflow then ends successfully if so, and fails if not, so that the message comes back
    and a re-run completes the missing effects (a final status alone is not done).
    """
    transaction_id = request.transaction_id
    failure = describe_failure(request)
    write = deps.transactions.transition(
        transaction_id, Status.FAILED, {"failure": failure}, iso(deps.clock())
    )
    if not write.applied:
        assert write.status is not None  # transition raises for an item without a status
        complete = deps.completion.is_complete(transaction_id, write.status)
        return Outcome(transaction_id, write.status, {"complete": complete}, first_time=False)
    # One row per attempt when the attempt is named (a retry of the same attempt reuses its row).
    event = f"failed#{request.execution_name}" if request.execution_name else "failed"
    first_time = deps.audit.append(
        AuditEvent(
            transaction_id=transaction_id,
            step=STEP,
            event=event,
            action="payment.failed",
            actor=ACTOR,
            detail=failure,
            outcome=Status.FAILED.value,
        )
    )
    return Outcome(transaction_id, Status.FAILED, {"failure": failure, "complete": False}, first_time)


def process(request: SettleRequest | DeclineRequest | FailRequest, deps: SettlementPorts) -> Outcome:
    if isinstance(request, SettleRequest):
        return settle(request, deps)
    if isinstance(request, DeclineRequest):
        return decline(request, deps)
    return record_failure(request, deps)
