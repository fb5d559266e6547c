"""The one amount grammar: strings and JSON numbers obey ``AMOUNT_PATTERN``, judged by their text."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments_core.errors import InvalidAmount
from payments_core.money import (
    AMOUNT_PATTERN,
    CURRENCY_MINOR_UNITS,
    MAX_AMOUNT_LENGTH,
    JsonNumber,
    is_amount_text,
    parse_amount,
)

GRAMMAR = re.compile(r"[0-9]{1,18}(\.[0-9]{1,18})?")
currencies = st.sampled_from(sorted(CURRENCY_MINOR_UNITS))
amount_texts = st.from_regex(AMOUNT_PATTERN, fullmatch=True)


def accepted(value: object, currency: str) -> Decimal | None:
    try:
        return parse_amount(value, currency)
    except InvalidAmount:
        return None


@given(text=amount_texts, currency=currencies)
def test_text_in_the_grammar_is_refused_only_for_zero_or_extra_places(text, currency):
    """Given text the grammar allows, Then it parses to exactly its value, unless it is 0 or too precise."""
    places = CURRENCY_MINOR_UNITS[currency]
    value = Decimal(text)
    fits = value > 0 and value == value.quantize(Decimal(1).scaleb(-places))

    parsed = accepted(text, currency)

    assert (parsed is not None) == fits
    if parsed is not None:
        assert parsed == value and parsed.as_tuple().exponent == -places


@given(text=st.text(max_size=60), currency=currencies)
def test_any_accepted_string_is_plain_ascii_digits_with_at_most_one_dot(text, currency):
    if accepted(text, currency) is not None:
        assert GRAMMAR.fullmatch(text) and len(text) <= MAX_AMOUNT_LENGTH


@given(
    text=amount_texts,
    junk=st.sampled_from([" ", "\t", "+", "-", "_", "e0", "E2", "\u00a0", "\u0661", "\uff11", ",", "."]),
    at=st.integers(min_value=0),
)
def test_one_foreign_character_anywhere_breaks_the_grammar(text, junk, at):
    at %= len(text) + 1
    broken = text[:at] + junk + text[at:]
    if junk == "." and "." not in text and 0 < at < len(text):
        return  # that is just another amount in the grammar
    assert not is_amount_text(broken)
    assert accepted(broken, "KWD") is None


@given(number=st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False)), currency=currencies)
def test_a_json_number_is_accepted_only_when_its_text_obeys_the_grammar(number, currency):
    """Given any JSON number as an encoder writes it (1e-05, -3, 1.5e+16...), its text decides."""
    text = json.dumps(number)
    parsed_number = json.loads(text, parse_float=JsonNumber, parse_int=JsonNumber)

    result = accepted(parsed_number, currency)

    if not is_amount_text(text):
        assert result is None
    else:
        assert result == accepted(text, currency)


@pytest.mark.parametrize("length", [MAX_AMOUNT_LENGTH + 1, 100, 10_000])
def test_length_is_bounded(length):
    assert not is_amount_text("1" * length)
    assert accepted("1" * 18 + "." + "0" * (length - 19), "USD") is None


def test_18_integer_digits_are_the_most():
    assert accepted("9" * 18, "JPY") == Decimal("9" * 18)
    assert accepted("1" + "0" * 18, "JPY") is None
