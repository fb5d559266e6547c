"""Detection of raw card data (PAN, CVV) anywhere in an inbound document.

The API accepts card *tokens* only. Anything that looks like a primary account number
(13 to 19 digits passing the Luhn check) or a field named like a CVV/PAN is rejected before
the payload is parsed further, and the offending value is never echoed or logged: only the
path of the field is reported. Keys are inspected too; a key that looks like a PAN is reported
as ``<card number>`` in the path, never by its text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

_SENSITIVE_KEYS: Final[frozenset[str]] = frozenset(
    {
        "pan",
        "card_number",
        "cardnumber",
        "number",
        "account_number",
        "cvv",
        "cvv2",
        "cvc",
        "cvc2",
        "cid",
        "csc",
        "security_code",
        "securitycode",
        "track1",
        "track2",
        "pin",
    }
)
# A run of digits, optionally grouped by spaces or dashes as printed on cards; longer runs are
# other identifiers, not PANs.
_DIGIT_RUN = re.compile(r"(?<![\d])\d(?:[ -]?\d){12,18}(?![\d])")
# How a path names a key that is itself card data.
CARD_NUMBER_KEY: Final = "<card number>"


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def looks_like_pan(text: str) -> bool:
    for match in _DIGIT_RUN.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return True
    return False


def _walk(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if looks_like_pan(str(key)):
                yield f"{path}.{CARD_NUMBER_KEY}" if path else CARD_NUMBER_KEY
                continue
            child = f"{path}.{key}" if path else str(key)
            if str(key).lower().replace("-", "_") in _SENSITIVE_KEYS:
                yield child
                continue
            yield from _walk(item, child)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")
    elif (isinstance(value, str) and looks_like_pan(value)) or (
        isinstance(value, int) and not isinstance(value, bool) and looks_like_pan(str(value))
    ):
        yield path


def find_card_data(document: Any, path: str = "") -> str | None:
    """The path of the first field holding card data, or None."""
    return next(_walk(document, path), None)
