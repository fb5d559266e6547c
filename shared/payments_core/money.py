"""Money parsing: a Decimal from the edge to the database, never a float.

Amounts arrive as JSON strings or JSON numbers, and both obey one grammar, ``AMOUNT_PATTERN``:
1-18 ASCII digits, optionally a '.' and 1-18 more. A JSON number is judged by the text the client
wrote, so the body parser must hand numbers over as ``JsonNumber`` (a Decimal that keeps its text),
never as a float.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Final

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

# DynamoDB numbers hold 38 significant digits; payments never need more than 18 integer digits, and
# no currency has more than 3 minor units, so 18 decimal places leave room for trailing zeros only.
MAX_INTEGER_DIGITS: Final[int] = 18
MAX_FRACTION_DIGITS: Final[int] = 18
# The amount grammar, for strings and for the text of JSON numbers alike: ASCII digits with at most
# one '.', digits on both sides of it; no sign, whitespace, underscore, exponent or other digits.
# (``Decimal()`` alone accepts all of those: "1_000", " 12 ", "+1", "1e2", Arabic-Indic digits.)
AMOUNT_PATTERN: Final[str] = rf"^[0-9]{{1,{MAX_INTEGER_DIGITS}}}(\.[0-9]{{1,{MAX_FRACTION_DIGITS}}})?$"
_AMOUNT = re.compile(AMOUNT_PATTERN)
MAX_AMOUNT_LENGTH: Final[int] = MAX_INTEGER_DIGITS + 1 + MAX_FRACTION_DIGITS


class JsonNumber(Decimal):
    """A JSON number as a Decimal that remembers the text it was written as.

    The amount grammar applies to what the client wrote: ``1e2`` and ``100`` are the same Decimal,
    and only the second is an amount.
    """

    text: str

    def __new__(cls, text: str) -> JsonNumber:
        number = super().__new__(cls, text)
        number.text = text
        return number


def amount_text(value: object) -> str | None:
    """The text an amount was written as, or None when it is neither a string nor a JSON number.

    Plain ints and Decimals come from our own code (a stored item, a queue message), never from a
    client's raw text, and are judged by their plain decimal form.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, JsonNumber):
        return value.text
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else str(value)
    return None


def is_amount_text(text: str) -> bool:
    """Whether ``text`` obeys the amount grammar (``AMOUNT_PATTERN``)."""
    return len(text) <= MAX_AMOUNT_LENGTH and _AMOUNT.fullmatch(text) is not None


def minor_units(currency: str) -> int:
    try:
        return CURRENCY_MINOR_UNITS[currency]
    except KeyError:
        raise UnsupportedCurrency("this currency is not supported", field="currency") from None


def parse_amount(value: object, currency: str, *, field: str = "amount") -> Decimal:
    """Parse a positive amount whose scale fits the currency's minor units.

    Accepts a string or a JSON number that obeys ``AMOUNT_PATTERN``, and ``int``/``Decimal`` from
    our own code. ``float`` is refused: by the time a float exists, the exact decimal the client sent
    is already lost. Messages never quote the value: it could be a card number.
    """
    exponent = minor_units(currency)
    text = amount_text(value)
    if text is None:
        raise InvalidAmount("amount must be a decimal string or a JSON number", field=field)
    if not is_amount_text(text):
        raise InvalidAmount(
            f"amount must be 1-{MAX_INTEGER_DIGITS} ASCII digits, optionally a '.' and up to "
            f"{MAX_FRACTION_DIGITS} more; no sign, spaces, underscores or exponent",
            field=field,
        )
    amount = Decimal(text)
    if amount <= 0:
        raise InvalidAmount("amount must be greater than 0", field=field)
    quantum = Decimal(1).scaleb(-exponent)
    if amount != amount.quantize(quantum):
        raise InvalidAmount(f"{currency} has {exponent} decimal place(s); this amount has more", field=field)
    return amount.quantize(quantum)


def format_amount(amount: Decimal, currency: str) -> str:
    """The canonical string form of an amount: exactly the currency's minor units."""
    return str(amount.quantize(Decimal(1).scaleb(-minor_units(currency))))


def decimal_strings(value: Any) -> Any:
    """A stored document with every number as its exact decimal string: a JSON reader of it never
    parses money as a binary float. Maps and sequences are copied; anything else is left as it is."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: decimal_strings(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [decimal_strings(item) for item in value]
    return value
