"""The validation step's boundary: the workflow payload in, the check result out.

The payment is read leniently on purpose: a payment that breaks a business rule must come out
as ``FAIL`` with a reason (a business decline), not as a parsing error (a technical failure).
Only an amount that is already a binary float is refused at parse time, because its exact value
is lost.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from payments_core.models import LENIENT, LenientPayment


class CardToValidate(BaseModel):
    model_config = LENIENT

    type: str = "card"
    token: str = ""
    last4: str = ""
    brand: str = ""
    country: str | None = None


class PaymentToValidate(LenientPayment):
    merchant_id: str = ""
    payment_method: CardToValidate = Field(default_factory=CardToValidate)
    reference: str | None = None


class ValidationRequest(BaseModel):
    """The Validate task's Payload: the workflow input."""

    model_config = LENIENT

    transaction_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    payment: PaymentToValidate
    received_at: str | None = None


class ValidationResult(BaseModel):
    """What the step returns to the state machine and stores as the item's ``validation`` map."""

    model_config = ConfigDict(frozen=True)

    outcome: Literal["PASS", "FAIL"]
    reasons: list[str]
    checked_at: str
