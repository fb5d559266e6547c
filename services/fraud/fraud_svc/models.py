"""The fraud step's boundary: the workflow payload in, the risk decision out.

Only the fields scoring reads are modelled, leniently: a payment that validation will fail must
still be scored, not crash this branch. An amount that is already a binary float is refused,
because its exact value is lost.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from payments_core.models import LENIENT, LenientPayment


class CardToScore(BaseModel):
    model_config = LENIENT

    brand: str | None = None
    country: str | None = None


class PaymentToScore(LenientPayment):
    payment_method: CardToScore = Field(default_factory=CardToScore)


class FraudRequest(BaseModel):
    """The ScoreFraud task's Payload: the workflow input."""

    model_config = LENIENT

    transaction_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    payment: PaymentToScore
    received_at: str | None = None


class FraudResult(BaseModel):
    """What the step returns and stores as the item's ``fraud`` map; the score is a string Decimal."""

    model_config = ConfigDict(frozen=True)

    outcome: Literal["APPROVE", "DECLINE"]
    score: Annotated[str, StringConstraints(pattern=r"^(0\.[0-9]{2}|1\.00)$")]
    reasons: list[str]
    checked_at: str
