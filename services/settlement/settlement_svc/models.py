"""The settlement step's boundary: one Payload per action, and the response shapes.

``settle`` reads what it moves money with, strictly: the amount must be exact in its currency
(the one amount grammar, ``payments_core.money.parse_amount``), and the merchant must be named.
The consumer checked the whole payment against the contract before it started the workflow.
``decline`` and ``fail`` read the payment not at all, because they must work for exactly the
payments that could not be read or did not pass. Plain dataclasses read by
``payments_core.payloads``, not pydantic: see there why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal

from payments_core.money import parse_amount
from payments_core.payloads import (
    TRANSACTION_ID_MAX_LENGTH,
    ValidationError,
    optional_text,
    record,
    required_text,
    text,
    texts,
)

MERCHANT_ID_MAX_LENGTH: Final = 64
REFERENCE_MAX_LENGTH: Final = 128


@dataclass(frozen=True, kw_only=True)
class CheckOutcome:
    """One parallel branch's result, or the ``{"outcome": "ERROR", ...}`` its Catch produced."""

    outcome: str
    reasons: list[str] = field(default_factory=list)
    score: str | None = None
    checked_at: str | None = None
    error: str | None = None
    cause: str | None = None

    @classmethod
    def read(cls, value: Any, where: str) -> CheckOutcome | None:
        if value is None:
            return None
        data = record(value, where)
        return cls(
            outcome=text(data, "outcome", where, required=True),
            reasons=texts(data, "reasons", where, required=False),
            **{name: optional_text(data, name, where) for name in ("score", "checked_at", "error", "cause")},
        )


@dataclass(frozen=True, kw_only=True)
class Checks:
    validation: CheckOutcome | None = None
    fraud: CheckOutcome | None = None

    @classmethod
    def model_validate(cls, value: Any, where: str = "checks") -> Checks:
        data = record(value, where)
        return cls(
            validation=CheckOutcome.read(data.get("validation"), f"{where}.validation"),
            fraud=CheckOutcome.read(data.get("fraud"), f"{where}.fraud"),
        )


@dataclass(frozen=True, kw_only=True)
class PaymentToSettle:
    """The payment's fields a settlement is made of."""

    merchant_id: str
    amount: Decimal
    currency: str
    reference: str | None = None

    @classmethod
    def read(cls, value: Any) -> PaymentToSettle:
        data = record(value, "payment")
        currency = text(data, "currency", "payment", required=True)
        if "amount" not in data:
            raise ValidationError("payment.amount", "is required")
        reference = optional_text(data, "reference", "payment")
        if reference is not None and len(reference) > REFERENCE_MAX_LENGTH:
            raise ValidationError("payment.reference", f"must be at most {REFERENCE_MAX_LENGTH} characters")
        return cls(
            merchant_id=required_text(data, "merchant_id", "payment", max_length=MERCHANT_ID_MAX_LENGTH),
            # Raises InvalidAmount or UnsupportedCurrency, as the API does for the same payment.
            amount=parse_amount(data["amount"], currency, field="payment.amount"),
            currency=currency,
            reference=reference,
        )


def _checks(data: Mapping[str, Any]) -> Checks:
    return Checks.model_validate(data["checks"]) if "checks" in data else Checks()


@dataclass(frozen=True, kw_only=True)
class SettleRequest:
    action: Literal["settle"] = "settle"
    transaction_id: str
    payment: PaymentToSettle
    checks: Checks = field(default_factory=Checks)

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> SettleRequest:
        if "payment" not in data:
            raise ValidationError("payment", "is required")
        return cls(
            transaction_id=required_text(data, "transaction_id", max_length=TRANSACTION_ID_MAX_LENGTH),
            payment=PaymentToSettle.read(data["payment"]),
            checks=_checks(data),
        )


@dataclass(frozen=True, kw_only=True)
class DeclineRequest:
    action: Literal["decline"] = "decline"
    transaction_id: str
    checks: Checks = field(default_factory=Checks)

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> DeclineRequest:
        return cls(
            transaction_id=required_text(data, "transaction_id", max_length=TRANSACTION_ID_MAX_LENGTH),
            checks=_checks(data),
        )


@dataclass(frozen=True, kw_only=True)
class FailRequest:
    action: Literal["fail"] = "fail"
    transaction_id: str
    # Only read to redact its identifying values from the recorded cause.
    payment: dict[str, Any] | None = None
    # A Catch's ``{"Error", "Cause"}``, or absent when the failure is in ``checks``.
    error: Any = None
    checks: Checks | None = None
    # The execution name (transaction id + receive count) makes one audit row per attempt.
    execution_name: str | None = None

    @classmethod
    def model_validate(cls, value: Any) -> FailRequest:
        data = record(value, "payload")
        payment = data.get("payment")
        if payment is not None and not isinstance(payment, dict):
            raise ValidationError("payment", "must be an object")
        # The state machine sends "execution_name"; "execution" is read too, as it always was.
        name_field = "execution_name" if "execution_name" in data else "execution"
        return cls(
            transaction_id=required_text(data, "transaction_id", max_length=TRANSACTION_ID_MAX_LENGTH),
            payment=payment,
            error=data.get("error"),
            checks=None if data.get("checks") is None else Checks.model_validate(data["checks"]),
            execution_name=optional_text(data, name_field),
        )


SettlementRequest = SettleRequest | DeclineRequest | FailRequest
_READERS: Final[dict[str, Callable[[Any], SettlementRequest]]] = {
    "settle": SettleRequest.read,
    "decline": DeclineRequest.read,
    "fail": FailRequest.model_validate,
}


def read_request(event: Any) -> SettlementRequest:
    """The Payload as the request its ``action`` names."""
    data = record(event, "payload")
    action = data.get("action")
    reader = _READERS.get(action) if isinstance(action, str) else None
    if reader is None:
        raise ValidationError("action", f"must be one of {', '.join(_READERS)}")
    return reader(data)
