"""Detection of raw card data (PAN, CVV) anywhere in a document: values of every type, and keys.

The API accepts card *tokens* only. Anything that looks like a primary account number (13 to 19
digits passing the Luhn check) or a field named like a CVV/PAN is rejected before the payload is
parsed further, and the offending value is never echoed or logged: only the path of the field is
reported. Keys are inspected too; a key that looks like a PAN is reported as ``<card number>`` in
the path, never by its text.

A PAN counts with or without separators, as exporters write them: spaces (any Unicode space,
NBSP included), dashes, underscores and dots between digit groups of at most six digits (cards
print in groups of 4-6), in any script's digits. Numbers are read from the text they were written
as when it is known (``JsonNumber``) and from their plain decimal form, so ``4111111111111111e0``
and ``4111111111111111.00`` are caught.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Final

from payments_core.money import JsonNumber

# Field names, compared lower-cased with separators removed ("Card-Number" is "cardnumber").
_SENSITIVE_KEYS: Final[frozenset[str]] = frozenset(
    {
        "pan",
        "cardnumber",
        "cardno",
        "ccnumber",
        "creditcardnumber",
        "primaryaccountnumber",
        "number",
        "accountnumber",
        "cvv",
        "cvv2",
        "cvc",
        "cvc2",
        "cvn",
        "cid",
        "csc",
        "securitycode",
        "cardverificationvalue",
        "cardverificationcode",
        "track1",
        "track2",
        "pin",
    }
)
_KEY_SEPARATORS = re.compile(r"[\s_\-.]+")
_SEPARATOR = r"[\s\-_.\u2010-\u2015\u2212]"
# ``\d`` is any script's decimal digit. A plain run counts wherever it stands, letters around it
# included; digit groups joined by up to three separator characters count when the whole run stands
# apart from letters and digits, as a printed number does (so the digit groups of a UUID such as
# "8f97-2444-4568-92557bcc09fe" are not read as a PAN).
_PLAIN_RUN = re.compile(r"(?<!\d)\d+(?!\d)")
_GROUPED_RUN = re.compile(rf"(?<![^\W_])\d+(?:{_SEPARATOR}{{1,3}}\d+)+(?![^\W_])")
_GROUP = re.compile(r"\d+")
_HEX: Final[frozenset[str]] = frozenset("0123456789abcdefABCDEF")
MIN_PAN_DIGITS: Final[int] = 13
MAX_PAN_DIGITS: Final[int] = 19
# Cards print their number in groups of 4 to 6 digits; a longer group is some other identifier
# (the 12-digit tail of a UUID, say) and only counts as a PAN on its own.
_MAX_PRINTED_GROUP: Final[int] = 6
# How a path names a key that is itself card data, and a key that is not a plain name (a path
# quotes no input beyond names like these).
CARD_NUMBER_KEY: Final = "<card number>"
OTHER_KEY: Final = "<key>"
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_\-]{1,64}")


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


def _is_pan(digits: str) -> bool:
    return MIN_PAN_DIGITS <= len(digits) <= MAX_PAN_DIGITS and luhn_valid(digits)


def _ascii(digits: str) -> str:
    return digits if digits.isascii() else "".join(str(unicodedata.decimal(ch)) for ch in digits)


def _run_holds_pan(groups: list[str]) -> bool:
    # Every stretch of printed-size groups, so "ref 12 4111 1111 1111 1111" is caught as well.
    for start in range(len(groups)):
        joined = ""
        for group in groups[start:]:
            if len(group) > _MAX_PRINTED_GROUP:
                break
            joined += group
            if len(joined) > MAX_PAN_DIGITS:
                break
            if _is_pan(joined):
                return True
    return False


def _inside_hex_token(text: str, start: int, end: int) -> bool:
    """Whether the digits are part of a longer hexadecimal word (a SHA-256 digest, a hex id): about
    one 64-digit digest in a hundred holds a Luhn-valid run of 13+ decimal digits by chance."""
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    word = text[start:end]
    return not word.isdecimal() and all(ch in _HEX for ch in word)


def looks_like_pan(text: str) -> bool:
    """Whether ``text`` holds a Luhn-valid run of 13-19 digits, plain or with separators."""
    for run in _PLAIN_RUN.finditer(text):
        if _is_pan(_ascii(run.group())) and not _inside_hex_token(text, run.start(), run.end()):
            return True
    for match in _GROUPED_RUN.finditer(text):
        groups = [_ascii(group) for group in _GROUP.findall(match.group())]
        if sum(map(len, groups)) >= MIN_PAN_DIGITS and _run_holds_pan(groups):
            return True
    return False


def scalar_texts(value: Any) -> list[str]:
    """The texts a scalar can be read as: a number as written and in its plain decimal form."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, JsonNumber):
        return [value.text, format(value, "f")] if value.is_finite() else [value.text]
    if isinstance(value, Decimal):
        return [str(value), format(value, "f")] if value.is_finite() else []
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, float):
        return [repr(value), f"{value:.0f}"] if math.isfinite(value) else []
    return [str(value)]


def holds_pan(value: Any) -> bool:
    """Whether a scalar (text or number of any kind) holds a card number."""
    return any(looks_like_pan(text) for text in scalar_texts(value))


def is_sensitive_name(key: Any) -> bool:
    """Whether a field name says it holds a card number or security code."""
    return isinstance(key, str) and _KEY_SEPARATORS.sub("", key).lower() in _SENSITIVE_KEYS


def path_name(key: Any) -> str:
    """How a key appears in a reported path: itself if it is a plain name, else a placeholder."""
    if holds_pan(key):
        return CARD_NUMBER_KEY
    return key if isinstance(key, str) and _PLAIN_NAME.fullmatch(key) else OTHER_KEY


def join_path(path: str, key: Any) -> str:
    name = path_name(key)
    return f"{path}.{name}" if path else name


def _walk(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            child = join_path(path, key)
            if holds_pan(key) or is_sensitive_name(key):
                yield child
                continue
            yield from _walk(item, child)
    elif isinstance(value, list | tuple | set | frozenset):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")
    elif holds_pan(value):
        yield path


def find_card_data(document: Any, path: str = "") -> str | None:
    """The path of the first field holding card data, or None."""
    return next(_walk(document, path), None)
