"""Money parsing: a Decimal from the edge to the database, never a float.

Amounts arrive as JSON strings or JSON numbers. JSON numbers must be parsed by the
caller with ``parse_float=Decimal`` (Powertools' resolver and ``json.loads`` below both
do), so a value never passes through binary floating point.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Final

from payments_core.errors import InvalidAmount, UnsupportedCurrency

# ISO 4217 minor units of the currencies the system supports.
CURRENCY_MINOR_UNITS: Final[dict[str, int]] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CHF": 2,
    "CAD": 2,
    "AUD": 2,
    "SEK": 2,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "BHD": 3,
}
SUPPORTED_CURRENCIES: Final[frozenset[str]] = frozenset(CURRENCY_MINOR_UNITS)

# DynamoDB numbers hold 38 significant digits; payments never need more than 18 integer digits.
MAX_INTEGER_DIGITS: Final[int] = 18


def minor_units(currency: str) -> int:
    try:
        return CURRENCY_MINOR_UNITS[currency]
    except KeyError:
        raise UnsupportedCurrency(f"currency {currency!r} is not supported", field="currency") from None


def parse_amount(value: object, currency: str, *, field: str = "amount") -> Decimal:
    """Parse a positive amount whose scale fits the currency's minor units.

    Accepts ``str``, ``int`` and ``Decimal``. ``float`` is refused: by the time a float
    exists, the exact decimal the client sent is already lost.
    """
    exponent = minor_units(currency)
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise InvalidAmount("amount must be a decimal string or a JSON number", field=field)
    text = value.strip() if isinstance(value, str) else value
    try:
        amount = Decimal(text)
    except (InvalidOperation, ValueError):
        raise InvalidAmount(f"amount {value!r} is not a decimal number", field=field) from None
    if not amount.is_finite():
        raise InvalidAmount("amount must be finite", field=field)
    if amount <= 0:
        raise InvalidAmount("amount must be greater than 0", field=field)
    exp = amount.as_tuple().exponent
    assert isinstance(exp, int)  # finite, checked above
    if -exp > exponent and amount != amount.quantize(Decimal(1).scaleb(-exponent)):
        raise InvalidAmount(
            f"{currency} has {exponent} decimal place(s); {value!r} has more",
            field=field,
        )
    if amount.adjusted() + 1 > MAX_INTEGER_DIGITS:
        raise InvalidAmount("amount is too large", field=field)
    return amount.quantize(Decimal(1).scaleb(-exponent))


def format_amount(amount: Decimal, currency: str) -> str:
    """The canonical string form of an amount: exactly the currency's minor units."""
    return str(amount.quantize(Decimal(1).scaleb(-minor_units(currency))))
