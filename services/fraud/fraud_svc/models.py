"""The fraud step's boundary: the workflow payload in, the risk decision out.

Only the fields scoring reads are modelled, leniently: a payment that validation will fail must
still be scored, not crash this branch. An amount that is already a binary float is refused,
because its exact value is lost.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

_LENIENT = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class CardView(BaseModel):
    model_config = _LENIENT

    brand: str | None = None
    country: str | None = None


class CustomerView(BaseModel):
    model_config = _LENIENT

    id: str | None = None
    country: str | None = None


class PaymentView(BaseModel):
    model_config = _LENIENT

    amount: str
    currency: str = ""
    payment_method: CardView = Field(default_factory=CardView)
    customer: CustomerView | None = None

    @field_validator("amount", mode="before")
    @classmethod
    def _exact_amount(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise ValueError("amount must be a decimal string or an integer, never a binary float")
        return str(value)


class FraudRequest(BaseModel):
    """The ScoreFraud task's Payload: the workflow input."""

    model_config = _LENIENT

    transaction_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    payment: PaymentView
    received_at: str | None = None


class FraudResult(BaseModel):
    """What the step returns and stores as the item's ``fraud`` map; the score is a string Decimal."""

    model_config = ConfigDict(frozen=True)

    outcome: Literal["APPROVE", "DECLINE"]
    score: Annotated[str, StringConstraints(pattern=r"^(0\.[0-9]{2}|1\.00)$")]
    reasons: list[str]
    checked_at: str
