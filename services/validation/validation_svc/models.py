"""The validation step's boundary: the workflow payload in, the check result out.

The payment is read leniently on purpose: a payment that breaks a business rule must come out
as ``FAIL`` with a reason (a business decline), not as a parsing error (a technical failure).
Only an amount that is already a binary float is refused at parse time, because its exact value
is lost. Plain dataclasses read by ``payments_core.payloads``, not pydantic: see there why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Self

from payments_core.payloads import (
    TRANSACTION_ID_MAX_LENGTH,
    LenientPayment,
    ValidationError,
    one_of,
    optional_text,
    record,
    required_text,
    text,
    texts,
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
class ValidationRequest:
    """The Validate task's Payload: the workflow input."""

    transaction_id: str
    payment: PaymentToValidate
    received_at: str | None = None

    @classmethod
    def model_validate(cls, value: Any) -> ValidationRequest:
        data = record(value, "payload")
        if "payment" not in data:
            raise ValidationError("payment", "is required")
        return cls(
            transaction_id=required_text(data, "transaction_id", max_length=TRANSACTION_ID_MAX_LENGTH),
            payment=PaymentToValidate.model_validate(data["payment"]),
            received_at=optional_text(data, "received_at"),
        )


OUTCOMES: tuple[Literal["PASS"], Literal["FAIL"]] = ("PASS", "FAIL")


@dataclass(frozen=True, kw_only=True)
class ValidationResult:
    """What the step returns to the state machine and stores as the item's ``validation`` map."""

    outcome: Literal["PASS", "FAIL"]
    reasons: list[str]
    checked_at: str

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValidationError("outcome", "must be PASS or FAIL")

    @classmethod
    def model_validate(cls, value: Any) -> ValidationResult:
        """A result stored by an earlier run."""
        data = record(value, "validation")
        outcome: Any = one_of(data, "outcome", OUTCOMES, "validation")
        return cls(
            outcome=outcome,
            reasons=texts(data, "reasons", "validation"),
            checked_at=text(data, "checked_at", "validation", required=True),
        )

    def model_dump(self) -> dict[str, Any]:
        return asdict(self)
