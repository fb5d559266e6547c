"""Money parsing: exact Decimals, the currency's minor units, never a float."""

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments_core.errors import InvalidAmount, UnsupportedCurrency
from payments_core.money import CURRENCY_MINOR_UNITS, format_amount, parse_amount

currencies = st.sampled_from(sorted(CURRENCY_MINOR_UNITS))


@given(currency=currencies, minor=st.integers(min_value=1, max_value=10**15))
def test_amount_round_trips_exactly_through_its_string_form(currency, minor):
    """Given any amount expressed in minor units, parsing its canonical string gives the same Decimal."""
    exponent = CURRENCY_MINOR_UNITS[currency]
    amount = Decimal(minor).scaleb(-exponent)

    parsed = parse_amount(format_amount(amount, currency), currency)

    assert parsed == amount
    assert parsed.as_tuple().exponent == -exponent


@given(currency=currencies, minor=st.integers(min_value=1, max_value=10**12))
def test_json_number_parsed_with_decimal_never_passes_through_float(currency, minor):
    """Given a JSON number body, json.loads(parse_float=Decimal) keeps the exact digits."""
    exponent = CURRENCY_MINOR_UNITS[currency]
    text = format_amount(Decimal(minor).scaleb(-exponent), currency)

    body = json.loads(f'{{"amount": {text}}}', parse_float=Decimal)

    assert not isinstance(body["amount"], float)
    assert format_amount(parse_amount(body["amount"], currency), currency) == text


@given(currency=currencies, minor=st.integers(min_value=1, max_value=10**9), extra=st.integers(1, 9))
def test_more_decimal_places_than_the_currency_allows_is_rejected(currency, minor, extra):
    """Given one more significant decimal place than the currency's minor units, the amount is refused."""
    exponent = CURRENCY_MINOR_UNITS[currency]
    amount = Decimal(minor).scaleb(-exponent) + Decimal(extra).scaleb(-exponent - 1)

    with pytest.raises(InvalidAmount) as raised:
        parse_amount(str(amount), currency)

    assert raised.value.field == "amount"


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("12.34", "USD", Decimal("12.34")),
        ("12.340", "USD", Decimal("12.34")),
        (100, "JPY", Decimal("100")),
        ("1.234", "KWD", Decimal("1.234")),
        (Decimal("5"), "EUR", Decimal("5.00")),
    ],
)
def test_valid_amounts_are_quantized_to_minor_units(value, currency, expected):
    assert parse_amount(value, currency) == expected


@pytest.mark.parametrize(
    "value",
    ["0", "-1.00", "abc", "NaN", "Infinity", "", True, None, 1.5, "1e30", "12.345"],
)
def test_bad_amounts_are_rejected_with_the_field(value):
    with pytest.raises(InvalidAmount) as raised:
        parse_amount(value, "USD")
    assert raised.value.field == "amount"


def test_jpy_has_no_minor_units():
    with pytest.raises(InvalidAmount):
        parse_amount("100.5", "JPY")


def test_unknown_currency_is_named():
    with pytest.raises(UnsupportedCurrency) as raised:
        parse_amount("1.00", "XXX")
    assert raised.value.field == "currency"
