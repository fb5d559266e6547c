"""The fraud step's boundary: the workflow payload in, the risk decision out.

Only the fields scoring reads are modelled, leniently: a payment that validation will fail must
still be scored, not crash this branch. An amount that is already a binary float is refused,
because its exact value is lost. Plain dataclasses read by ``payments_core.payloads``, not
pydantic: see there why.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal, Self

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

SCORE_PATTERN: Final = re.compile(r"0\.[0-9]{2}|1\.00")


@dataclass(frozen=True, kw_only=True)
class CardToScore:
    brand: str | None = None
    country: str | None = None

    @classmethod
    def read(cls, value: Any, where: str) -> CardToScore:
        data = record(value, where)
        return cls(brand=optional_text(data, "brand", where), country=optional_text(data, "country", where))


@dataclass(frozen=True, kw_only=True)
class PaymentToScore(LenientPayment):
    payment_method: CardToScore = field(default_factory=CardToScore)

    @classmethod
    def model_validate(cls, value: Any) -> Self:
        data = record(value, "payment")
        return cls(
            **cls.common(data, "payment"),
            payment_method=CardToScore.read(data.get("payment_method", {}), "payment.payment_method"),
        )


@dataclass(frozen=True, kw_only=True)
class FraudRequest:
    """The ScoreFraud task's Payload: the workflow input."""

    transaction_id: str
    payment: PaymentToScore
    received_at: str | None = None

    @classmethod
    def model_validate(cls, value: Any) -> FraudRequest:
        data = record(value, "payload")
        if "payment" not in data:
            raise ValidationError("payment", "is required")
        return cls(
            transaction_id=required_text(data, "transaction_id", max_length=TRANSACTION_ID_MAX_LENGTH),
            payment=PaymentToScore.model_validate(data["payment"]),
            received_at=optional_text(data, "received_at"),
        )


OUTCOMES: tuple[Literal["APPROVE"], Literal["DECLINE"]] = ("APPROVE", "DECLINE")


@dataclass(frozen=True, kw_only=True)
class FraudResult:
    """What the step returns and stores as the item's ``fraud`` map; the score is a string Decimal."""

    outcome: Literal["APPROVE", "DECLINE"]
    score: str
    reasons: list[str]
    checked_at: str

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValidationError("outcome", "must be APPROVE or DECLINE")
        if not isinstance(self.score, str) or not SCORE_PATTERN.fullmatch(self.score):
            raise ValidationError("score", "must be a two-place decimal string from 0.00 to 1.00")

    @classmethod
    def model_validate(cls, value: Any) -> FraudResult:
        """A decision stored by an earlier run."""
        data = record(value, "fraud")
        outcome: Any = one_of(data, "outcome", OUTCOMES, "fraud")
        return cls(
            outcome=outcome,
            score=text(data, "score", "fraud", required=True),
            reasons=texts(data, "reasons", "fraud"),
            checked_at=text(data, "checked_at", "fraud", required=True),
        )

    def model_dump(self) -> dict[str, Any]:
        return asdict(self)
