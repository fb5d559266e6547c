"""The validation step's boundary: the workflow payload in, the check result out.

The payment is read leniently on purpose: a payment that breaks a business rule must come out
as ``FAIL`` with a reason (a business decline), not as a parsing error (a technical failure).
Only an amount that is already a binary float is refused at parse time, because its exact value
is lost.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

_LENIENT = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class CardView(BaseModel):
    model_config = _LENIENT

    type: str = "card"
    token: str = ""
    last4: str = ""
    brand: str = ""
    country: str | None = None


class CustomerView(BaseModel):
    model_config = _LENIENT

    id: str | None = None
    country: str | None = None


class PaymentView(BaseModel):
    model_config = _LENIENT

    merchant_id: str = ""
    amount: str
    currency: str = ""
    payment_method: CardView = Field(default_factory=CardView)
    customer: CustomerView | None = None
    reference: str | None = None

    @field_validator("amount", mode="before")
    @classmethod
    def _exact_amount(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise ValueError("amount must be a decimal string or an integer, never a binary float")
        return str(value)


class ValidationRequest(BaseModel):
    """The Validate task's Payload: the workflow input."""

    model_config = _LENIENT

    transaction_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    payment: PaymentView
    received_at: str | None = None


class ValidationResult(BaseModel):
    """What the step returns to the state machine and stores as the item's ``validation`` map."""

    model_config = ConfigDict(frozen=True)

    outcome: Literal["PASS", "FAIL"]
    reasons: list[str]
    checked_at: str
