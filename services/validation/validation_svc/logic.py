"""Business rules a payment must pass before it may be settled.

The API has already checked the schema (types, a positive amount, a supported currency, no card
data). These rules add what a schema cannot say. Every failed rule adds its code to ``reasons``, in
the order below, so a declined payment reports every reason at once. Any reason makes the outcome
``FAIL``, which the workflow turns into a ``DECLINED`` payment (a business decline, not an error).

| Code | Fails when |
|---|---|
| `currency_not_supported` | the currency is not one the system supports (the tables below) |
| `amount_not_a_number` | the amount is not a finite decimal number |
| `amount_not_positive` | the amount is zero or negative |
| `amount_too_many_decimals` | more decimals than ISO 4217 minor units (JPY 0, USD 2, KWD 3); trailing 0s ok |
| `amount_below_minimum` | the amount is below the currency's minimum charge (table below) |
| `amount_above_maximum` | the amount is above the currency's maximum charge (table below) |
| `merchant_id_invalid` | the merchant id is not `m_` followed by 1 to 32 ASCII letters or digits |
| `payment_method_not_supported` | the payment method is not `card` |
| `token_invalid` | the card token is not `tok_` followed by 4 to 64 ASCII letters, digits or `_` |
| `last4_invalid` | `last4` is not exactly four digits |
| `brand_not_supported` | the brand is not visa, mastercard, amex, discover, jcb or unionpay |
| `brand_currency_not_accepted` | the brand is not accepted in the payment's currency (matrix below) |
| `card_country_missing` | a card payment carries no card country (fraud scoring needs it) |
| `card_country_invalid` | the card country is not an ISO 3166-1 alpha-2 code |

Amount checks that need the currency are skipped when the currency is unsupported, and the
minimum/maximum checks are skipped when the amount is not a usable number, so one defect yields
one reason rather than a cascade.

Minimum and maximum charge per currency. The minimums follow common card-acquirer minimums; the
maximums are fixed round figures near USD 10,000.00, kept as constants rather than derived from
exchange rates so that a rate move never changes the outcome of a replayed payment.

| Currency | Minimum | Maximum |
|---|---|---|
| USD | 0.50 | 10,000.00 |
| EUR | 0.50 | 9,000.00 |
| GBP | 0.30 | 8,000.00 |
| CHF | 0.50 | 9,000.00 |
| CAD | 0.50 | 13,500.00 |
| AUD | 0.50 | 15,000.00 |
| SEK | 3.00 | 105,000.00 |
| JPY | 50 | 1,500,000 |
| KRW | 500 | 13,500,000 |
| KWD | 0.100 | 3,000.000 |
| BHD | 0.100 | 3,750.000 |

Brands accepted per currency. This is the acquiring agreement the pipeline models, not a network
rule; CNY is not a supported currency, so UnionPay is accepted only in the currencies its
international acquiring settles in.

| Brand | Accepted currencies |
|---|---|
| visa, mastercard | all supported currencies |
| amex | all supported currencies except KRW |
| discover | USD, CAD |
| jcb | JPY, USD, EUR, GBP, AUD, CAD |
| unionpay | USD, EUR, GBP, CHF, JPY, AUD, CAD |
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Final

from payments_core.clock import iso, utc_now
from payments_core.money import CURRENCY_MINOR_UNITS, SUPPORTED_CURRENCIES
from validation_svc.models import PaymentToValidate, ValidationRequest, ValidationResult

MINIMUM_CHARGE: Final[Mapping[str, Decimal]] = {
    "USD": Decimal("0.50"),
    "EUR": Decimal("0.50"),
    "GBP": Decimal("0.30"),
    "CHF": Decimal("0.50"),
    "CAD": Decimal("0.50"),
    "AUD": Decimal("0.50"),
    "SEK": Decimal("3.00"),
    "JPY": Decimal("50"),
    "KRW": Decimal("500"),
    "KWD": Decimal("0.100"),
    "BHD": Decimal("0.100"),
}
MAXIMUM_CHARGE: Final[Mapping[str, Decimal]] = {
    "USD": Decimal("10000.00"),
    "EUR": Decimal("9000.00"),
    "GBP": Decimal("8000.00"),
    "CHF": Decimal("9000.00"),
    "CAD": Decimal("13500.00"),
    "AUD": Decimal("15000.00"),
    "SEK": Decimal("105000.00"),
    "JPY": Decimal("1500000"),
    "KRW": Decimal("13500000"),
    "KWD": Decimal("3000.000"),
    "BHD": Decimal("3750.000"),
}
BRAND_CURRENCIES: Final[Mapping[str, frozenset[str]]] = {
    "visa": SUPPORTED_CURRENCIES,
    "mastercard": SUPPORTED_CURRENCIES,
    "amex": SUPPORTED_CURRENCIES - {"KRW"},
    "discover": frozenset({"USD", "CAD"}),
    "jcb": frozenset({"JPY", "USD", "EUR", "GBP", "AUD", "CAD"}),
    "unionpay": frozenset({"USD", "EUR", "GBP", "CHF", "JPY", "AUD", "CAD"}),
}

# Matched with fullmatch: a `$` anchor would also accept a trailing newline.
MERCHANT_ID: Final = re.compile(r"m_[A-Za-z0-9]{1,32}")
TOKEN: Final = re.compile(r"tok_[A-Za-z0-9_]{4,64}")
LAST4: Final = re.compile(r"[0-9]{4}")
COUNTRY: Final = re.compile(r"[A-Z]{2}")


def _decimal_places(amount: Decimal) -> int:
    """Significant decimal places, ignoring trailing zeros; exact at any precision (no quantize)."""
    _, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite, checked by the caller
    places = -exponent
    kept = len(digits)
    while places > 0 and kept and digits[kept - 1] == 0:
        kept -= 1
        places -= 1
    return max(places, 0)


def _amount_reasons(text: str, currency: str) -> list[str]:
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        return ["amount_not_a_number"]
    if not amount.is_finite():
        return ["amount_not_a_number"]
    if amount <= 0:
        return ["amount_not_positive"]
    if currency not in SUPPORTED_CURRENCIES:
        return []
    reasons = []
    if _decimal_places(amount) > CURRENCY_MINOR_UNITS[currency]:
        reasons.append("amount_too_many_decimals")
    if amount < MINIMUM_CHARGE[currency]:
        reasons.append("amount_below_minimum")
    if amount > MAXIMUM_CHARGE[currency]:
        reasons.append("amount_above_maximum")
    return reasons


def _card_reasons(payment: PaymentToValidate) -> list[str]:
    card = payment.payment_method
    if card.type != "card":
        return ["payment_method_not_supported"]
    reasons = []
    if not TOKEN.fullmatch(card.token):
        reasons.append("token_invalid")
    if not LAST4.fullmatch(card.last4):
        reasons.append("last4_invalid")
    accepted = BRAND_CURRENCIES.get(card.brand)
    if accepted is None:
        reasons.append("brand_not_supported")
    elif payment.currency in SUPPORTED_CURRENCIES and payment.currency not in accepted:
        reasons.append("brand_currency_not_accepted")
    if not card.country:
        reasons.append("card_country_missing")
    elif not COUNTRY.fullmatch(card.country):
        reasons.append("card_country_invalid")
    return reasons


def check_payment(payment: PaymentToValidate) -> list[str]:
    """Every rule the payment breaks, as machine-readable codes in table order; empty means PASS."""
    reasons = []
    if payment.currency not in SUPPORTED_CURRENCIES:
        reasons.append("currency_not_supported")
    reasons += _amount_reasons(payment.amount, payment.currency)
    if not MERCHANT_ID.fullmatch(payment.merchant_id):
        reasons.append("merchant_id_invalid")
    reasons += _card_reasons(payment)
    return reasons


def validate_payment(
    request: ValidationRequest, *, clock: Callable[[], datetime] = utc_now
) -> ValidationResult:
    """Check the payment. Nothing is written: the result reaches the transaction item, and its
    audit row, with the final status (settlement's write), so a re-run simply checks again."""
    reasons = check_payment(request.payment)
    return ValidationResult(outcome="FAIL" if reasons else "PASS", reasons=reasons, checked_at=iso(clock()))
