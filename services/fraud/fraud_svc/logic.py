"""Fraud risk score of a payment: weighted rules, a Decimal in [0, 1], decline at 0.75.

Each rule that fires adds its weight and its code to ``reasons``. The score is the sum, capped at
1, rounded half-even to two places and carried as a string (``"0.35"``) so that no float ever
holds it. A score of ``DECLINE_THRESHOLD`` (0.75) or more declines the payment.

| Code | Fires when | Weight |
|---|---|---|
| `amount_very_high` | amount ≥ USD 7,500 equivalent | 0.40 |
| `amount_high` | amount ≥ USD 3,000 equivalent (and below 7,500) | 0.25 |
| `amount_elevated` | amount ≥ USD 1,000 equivalent (and below 3,000) | 0.10 |
| `round_amount` | amount ≥ USD 1,000 equivalent and a whole multiple of the currency's round unit | 0.15 |
| `currency_not_priced` | the currency has no indicative rate, so the amount rules cannot run | 0.25 |
| `amount_unreadable` | the amount is not a finite decimal, so the amount rules cannot run | 0.25 |
| `country_mismatch` | card country and customer country are both known and differ | 0.25 |
| `card_country_high_risk` | the card country is on the high-risk list | 0.50 |
| `customer_country_high_risk` | the customer country is on the high-risk list | 0.35 |
| `card_country_unknown` | the card carries no country | 0.10 |
| `customer_unknown` | the payment names no customer, so velocity cannot be measured | 0.10 |
| `velocity_high` | the customer has ≥ 10 other transactions created in the last 10 minutes | 0.45 |
| `velocity_elevated` | the customer has ≥ 5 (and fewer than 10) such transactions | 0.20 |

Only the highest amount tier and the highest velocity tier apply. Worked examples: USD 12.34 with
matching US card and customer scores 0.00 (APPROVE); USD 5,000.00 with a GB card and a US customer
scores 0.25 + 0.15 + 0.25 = 0.65 (APPROVE); USD 8,000.00 in the same situation scores
0.40 + 0.15 + 0.25 = 0.80 (DECLINE).

The USD equivalent uses the static rates below. They are **indicative** (order of magnitude, for
tiering only), not a source of truth for FX, and change only with a deploy, so a re-run scores
the same amount the same way.

| Currency | USD per unit | Round unit |
|---|---|---|
| USD | 1 | 100 |
| EUR | 1.08 | 100 |
| GBP | 1.27 | 100 |
| CHF | 1.13 | 100 |
| CAD | 0.73 | 100 |
| AUD | 0.66 | 100 |
| SEK | 0.095 | 1,000 |
| JPY | 0.0067 | 10,000 |
| KRW | 0.00073 | 100,000 |
| KWD | 3.25 | 100 |
| BHD | 2.65 | 100 |

High-risk countries: KP, IR, MM (the FATF "call for action" jurisdictions); a production
deployment reads this list from configuration owned by compliance.

Velocity counts the customer's transactions whose ``created_at`` lies within the 10 minutes before
scoring, excluding this payment itself, through the ``by_customer`` index (keys only, a count
query: no item is read).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Final, Protocol

from fraud_svc.models import FraudRequest, FraudResult, PaymentToScore
from payments_core.clock import iso, utc_now

DECLINE_THRESHOLD: Final = Decimal("0.75")
SCORE_PLACES: Final = Decimal("0.01")

USD_PER_UNIT: Final[Mapping[str, Decimal]] = {
    "USD": Decimal("1"),
    "EUR": Decimal("1.08"),
    "GBP": Decimal("1.27"),
    "CHF": Decimal("1.13"),
    "CAD": Decimal("0.73"),
    "AUD": Decimal("0.66"),
    "SEK": Decimal("0.095"),
    "JPY": Decimal("0.0067"),
    "KRW": Decimal("0.00073"),
    "KWD": Decimal("3.25"),
    "BHD": Decimal("2.65"),
}
# Round unit as a power of ten: 2 means a whole multiple of 100 in the currency's major unit.
ROUND_UNIT_ZEROS: Final[Mapping[str, int]] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CHF": 2,
    "CAD": 2,
    "AUD": 2,
    "SEK": 3,
    "JPY": 4,
    "KRW": 5,
    "KWD": 2,
    "BHD": 2,
}
# Highest tier first; only the first that matches applies.
AMOUNT_TIERS: Final[tuple[tuple[Decimal, Decimal, str], ...]] = (
    (Decimal("7500"), Decimal("0.40"), "amount_very_high"),
    (Decimal("3000"), Decimal("0.25"), "amount_high"),
    (Decimal("1000"), Decimal("0.10"), "amount_elevated"),
)
ROUND_AMOUNT_FROM_USD: Final = Decimal("1000")
VELOCITY_WINDOW: Final = timedelta(minutes=10)
VELOCITY_TIERS: Final[tuple[tuple[int, Decimal, str], ...]] = (
    (10, Decimal("0.45"), "velocity_high"),
    (5, Decimal("0.20"), "velocity_elevated"),
)
HIGH_RISK_COUNTRIES: Final[frozenset[str]] = frozenset({"KP", "IR", "MM"})

WEIGHTS: Final[Mapping[str, Decimal]] = {
    "round_amount": Decimal("0.15"),
    "currency_not_priced": Decimal("0.25"),
    "amount_unreadable": Decimal("0.25"),
    "country_mismatch": Decimal("0.25"),
    "card_country_high_risk": Decimal("0.50"),
    "customer_country_high_risk": Decimal("0.35"),
    "card_country_unknown": Decimal("0.10"),
    "customer_unknown": Decimal("0.10"),
    **{code: weight for _, weight, code in AMOUNT_TIERS},
    **{code: weight for _, weight, code in VELOCITY_TIERS},
}


@dataclass(frozen=True)
class Assessment:
    score: Decimal
    reasons: tuple[str, ...]

    @property
    def declined(self) -> bool:
        return self.score >= DECLINE_THRESHOLD


def usd_equivalent(amount: Decimal, currency: str) -> Decimal | None:
    """Indicative USD value for tiering; None when the currency has no rate."""
    rate = USD_PER_UNIT.get(currency)
    return None if rate is None else amount * rate


def is_round(amount: Decimal, zeros: int) -> bool:
    """A non-zero whole multiple of 10**zeros; read off the digits, exact at any magnitude."""
    _, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite, checked by the caller
    text = "".join(map(str, digits))
    return amount != 0 and exponent + len(text) - len(text.rstrip("0")) >= zeros


def _amount_reasons(payment: PaymentToScore) -> list[str]:
    try:
        amount = Decimal(payment.amount.strip())
    except InvalidOperation:
        return ["amount_unreadable"]
    if not amount.is_finite():
        return ["amount_unreadable"]
    usd = usd_equivalent(amount, payment.currency)
    if usd is None:
        return ["currency_not_priced"]
    reasons = [next((code for floor, _, code in AMOUNT_TIERS if usd >= floor), "")]
    if usd >= ROUND_AMOUNT_FROM_USD and is_round(amount, ROUND_UNIT_ZEROS[payment.currency]):
        reasons.append("round_amount")
    return [code for code in reasons if code]


def _country_reasons(payment: PaymentToScore) -> list[str]:
    card_country = payment.payment_method.country
    customer_country = payment.customer.country if payment.customer else None
    reasons = []
    if card_country and customer_country and card_country != customer_country:
        reasons.append("country_mismatch")
    if card_country in HIGH_RISK_COUNTRIES:
        reasons.append("card_country_high_risk")
    if customer_country in HIGH_RISK_COUNTRIES:
        reasons.append("customer_country_high_risk")
    if not card_country:
        reasons.append("card_country_unknown")
    return reasons


def _velocity_reasons(recent_transactions: int | None) -> list[str]:
    if recent_transactions is None:
        return ["customer_unknown"]
    return [code for floor, _, code in VELOCITY_TIERS if recent_transactions >= floor][:1]


def assess(payment: PaymentToScore, recent_transactions: int | None) -> Assessment:
    """Score the payment. ``recent_transactions`` is None when the payment names no customer."""
    reasons = _amount_reasons(payment) + _country_reasons(payment) + _velocity_reasons(recent_transactions)
    total = sum((WEIGHTS[code] for code in reasons), Decimal(0))
    score = min(total, Decimal(1)).quantize(SCORE_PLACES, rounding=ROUND_HALF_EVEN)
    return Assessment(score=score, reasons=tuple(reasons))


class VelocityPort(Protocol):
    def recent_transactions(self, customer_id: str, since: str, exclude_transaction_id: str) -> int:
        """How many of the customer's transactions were created at or after ``since``, excluding one."""
        ...


def score_payment(
    request: FraudRequest, velocity: VelocityPort, *, clock: Callable[[], datetime] = utc_now
) -> FraudResult:
    """Score the payment. Nothing is written: the decision reaches the transaction item, and its
    audit row, with the final status (settlement's write). A re-run scores again, with the
    velocity of its own time; only the decision of the attempt that completes is recorded."""
    now = clock()
    customer_id = request.payment.customer.id if request.payment.customer else None
    recent = (
        velocity.recent_transactions(customer_id, iso(now - VELOCITY_WINDOW), request.transaction_id)
        if customer_id
        else None
    )
    assessment = assess(request.payment, recent)
    return FraudResult(
        outcome="DECLINE" if assessment.declined else "APPROVE",
        score=str(assessment.score),
        reasons=list(assessment.reasons),
        checked_at=iso(now),
    )
