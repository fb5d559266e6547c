"""The fraud step's boundary: the workflow payload in, the risk decision out.

Only the fields scoring reads are modelled, leniently: a payment that validation will fail must
still be scored, not crash this branch. An amount that is already a binary float is refused,
because its exact value is lost. Plain dataclasses (``payments_core.checks``) read by
``payments_core.payloads``, not pydantic: see there why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Self

from payments_core.checks import CheckRequest, CheckResult, LenientPayment
from payments_core.payloads import (
    ValidationError,
    optional_text,
    record,
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
class FraudRequest(CheckRequest[PaymentToScore]):
    """The ScoreFraud task's Payload: the workflow input."""

    PAYMENT = PaymentToScore


@dataclass(frozen=True, kw_only=True)
class FraudResult(CheckResult):
    """What the step returns to the workflow; the score is a string Decimal."""

    OUTCOMES = ("APPROVE", "DECLINE")

    outcome: Literal["APPROVE", "DECLINE"]
    score: str

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.score, str) or not SCORE_PATTERN.fullmatch(self.score):
            raise ValidationError("score", "must be a two-place decimal string from 0.00 to 1.00")
