"""Settle, decline or record the failure of a payment; every action is safe to run again.

Each action is one conditional UpdateItem of the transaction item: the final status with the
checks' results and the settlement (or the decline reasons, or the failure), from an open status
only. Nothing is read first: the guard refuses a payment that is not open, and the refused item
comes back with the error. A crash at any point is safe to retry: either the write landed, and a
re-run finds it and returns the same result, or it did not, and nothing was written. A decline
that wins the race leaves nothing of a settlement behind.

That write is the whole step. What follows from it is derived from the transactions table's
stream, which retries until each effect lands: the audit rows (``payments_core.audit_trail``),
and for a SETTLED payment its settlement record and its archive entry
(``settlement_svc.archiving``), many payments to a request.

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

from payments_core.audit_trail import settlement_view
from payments_core.clock import iso
from payments_core.errors import StatusTransitionRejected
from payments_core.money import minor_units
from payments_core.status import FINAL_STATUSES, Status
from settlement_svc.fees import FEE_RATE, FIXED_FEE
from settlement_svc.models import CheckOutcome, Checks, DeclineRequest, FailRequest, SettleRequest
from settlement_svc.ports import SettlementPorts

if TYPE_CHECKING:
    from payments_core.transactions import GuardedWrite


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
    # False when an earlier run's write already stood (the guard refused this one).
    first_time: bool = True


# ---------------------------------------------------------------------------- actions


def _checks_fields(checks: Checks | None) -> dict[str, Any]:
    """The checks' results as the item stores them, written with the final status."""
    stored: dict[str, Any] = {}
    for name in ("validation", "fraud"):
        check: CheckOutcome | None = getattr(checks, name) if checks else None
        if check is not None and check.outcome != "ERROR":
            kept = {"outcome": check.outcome, "reasons": list(check.reasons), "score": check.score}
            kept["checked_at"] = check.checked_at
            stored[name] = {key: value for key, value in kept.items() if value is not None}
    return stored


def _refused(transaction_id: str, write: GuardedWrite, wanted: Status) -> dict[str, Any]:
    """The item of a refused write that an earlier run of this action made; raises for a conflict."""
    if write.status != wanted:
        raise StatusTransitionRejected(
            f"transaction {transaction_id} is {write.status} and cannot be {wanted.value.lower()}"
        )
    return write.item or {}


def settle(request: SettleRequest, deps: SettlementPorts) -> Outcome:
    transaction_id = request.transaction_id
    payment = request.payment
    now = iso(deps.clock())
    charge = settlement_fee(payment.amount, payment.currency)
    settlement = {
        "amount": payment.amount,
        "currency": payment.currency,
        "fee": charge.fee,
        "net": charge.net,
        "settled_at": now,
    }
    fields = {"settlement": settlement, **_checks_fields(request.checks)}
    write = deps.transactions.transition(transaction_id, Status.SETTLED, fields, now)
    if not write.applied:
        settlement = _refused(transaction_id, write, Status.SETTLED).get("settlement") or settlement
    detail = {"settlement": settlement_view(settlement)}
    return Outcome(transaction_id, Status.SETTLED, detail, first_time=write.applied)


def decline(request: DeclineRequest, deps: SettlementPorts) -> Outcome:
    transaction_id = request.transaction_id
    reasons = decline_reasons(request.checks)
    fields = {"decline_reasons": reasons, **_checks_fields(request.checks)}
    write = deps.transactions.transition(transaction_id, Status.DECLINED, fields, iso(deps.clock()))
    if not write.applied:
        reasons = list(_refused(transaction_id, write, Status.DECLINED).get("decline_reasons") or reasons)
    return Outcome(transaction_id, Status.DECLINED, {"decline_reasons": reasons}, first_time=write.applied)


def record_failure(request: FailRequest, deps: SettlementPorts) -> Outcome:
    """FAILED with ``{error, cause, execution}``; a transaction already SETTLED or DECLINED is left as it is.

    ``complete`` in the result says whether the payment is done: never for FAILED, always for a
    status another attempt already made final (the final write is the step's every effect; what
    follows from it, the stream delivers). The workflow then ends successfully, and the message
    is not retried.
    """
    transaction_id = request.transaction_id
    failure = describe_failure(request)
    # An unnamed attempt is one attempt: its failure is recorded once, like a named one's.
    attempt = request.execution_name or ""
    failure["execution"] = attempt
    write = deps.transactions.transition(
        transaction_id, Status.FAILED, {"failure": failure}, iso(deps.clock()), attempt=attempt
    )
    if not write.applied:
        assert write.status is not None  # transition raises for an item without a status
        if write.status is Status.FAILED:
            # This attempt's failure is already the one recorded: a retry of the same task.
            recorded = (write.item or {}).get("failure") or failure
            return Outcome(
                transaction_id, Status.FAILED, {"failure": recorded, "complete": False}, first_time=False
            )
        return Outcome(
            transaction_id, write.status, {"complete": write.status in FINAL_STATUSES}, first_time=False
        )
    return Outcome(transaction_id, Status.FAILED, {"failure": failure, "complete": False}, first_time=True)


def process(request: SettleRequest | DeclineRequest | FailRequest, deps: SettlementPorts) -> Outcome:
    if isinstance(request, SettleRequest):
        return settle(request, deps)
    if isinstance(request, DeclineRequest):
        return decline(request, deps)
    return record_failure(request, deps)
