"""The validation step's boundary: the workflow payload in, the check result out.

The payment is read leniently on purpose: a payment that breaks a business rule must come out
as ``FAIL`` with a reason (a business decline), not as a parsing error (a technical failure).
Only an amount that is already a binary float is refused at parse time, because its exact value
is lost. Plain dataclasses (``payments_core.checks``) read by ``payments_core.payloads``, not
pydantic: see there why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Self

from payments_core.checks import CheckRequest, CheckResult, LenientPayment
from payments_core.payloads import (
    optional_text,
    record,
    text,
)


@dataclass(frozen=True, kw_only=True)
class CardToValidate:
    type: str = "card"
    token: str = ""
    last4: str = ""
    brand: str = ""
    country: str | None = None

    @classmethod
    def read(cls, value: Any, where: str) -> CardToValidate:
        data = record(value, where)
        return cls(
            type=text(data, "type", where, default="card"),
            token=text(data, "token", where),
            last4=text(data, "last4", where),
            brand=text(data, "brand", where),
            country=optional_text(data, "country", where),
        )


@dataclass(frozen=True, kw_only=True)
class PaymentToValidate(LenientPayment):
    merchant_id: str = ""
    payment_method: CardToValidate = field(default_factory=CardToValidate)
    reference: str | None = None

    @classmethod
    def model_validate(cls, value: Any) -> Self:
        data = record(value, "payment")
        card = data.get("payment_method", {})
        return cls(
            **cls.common(data, "payment"),
            merchant_id=text(data, "merchant_id", "payment"),
            payment_method=CardToValidate.read(card, "payment.payment_method"),
            reference=optional_text(data, "reference", "payment"),
        )


@dataclass(frozen=True, kw_only=True)
class ValidationRequest(CheckRequest[PaymentToValidate]):
    """The Validate task's Payload: the workflow input."""

    PAYMENT = PaymentToValidate


@dataclass(frozen=True, kw_only=True)
class ValidationResult(CheckResult):
    """What the step returns to the state machine."""

    OUTCOMES = ("PASS", "FAIL")

    outcome: Literal["PASS", "FAIL"]
