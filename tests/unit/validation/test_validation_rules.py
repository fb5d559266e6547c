"""Validation's business rules: each rule, its boundaries, and how reasons combine."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments_core.money import CURRENCY_MINOR_UNITS, SUPPORTED_CURRENCIES
from payments_core.payloads import ValidationError
from tests import factories
from validation_svc.logic import BRAND_CURRENCIES, MAXIMUM_CHARGE, MINIMUM_CHARGE, check_payment
from validation_svc.models import PaymentToValidate


def payment(**changes):
    """A payment that passes every rule, with ``changes`` applied (``payment_method`` merged)."""
    return PaymentToValidate.model_validate(factories.payment(**changes))


def one_minor_unit(currency):
    return Decimal(1).scaleb(-CURRENCY_MINOR_UNITS[currency])


def test_an_ordinary_payment_passes():
    assert check_payment(payment()) == []


def test_limit_tables_cover_exactly_the_supported_currencies_in_their_minor_units():
    """Given the limit tables, every supported currency has a minimum below its maximum, both exact."""
    assert set(MINIMUM_CHARGE) == set(MAXIMUM_CHARGE) == SUPPORTED_CURRENCIES
    for currency in SUPPORTED_CURRENCIES:
        exponent = -CURRENCY_MINOR_UNITS[currency]
        assert MINIMUM_CHARGE[currency].as_tuple().exponent == exponent
        assert MAXIMUM_CHARGE[currency].as_tuple().exponent == exponent
        assert 0 < MINIMUM_CHARGE[currency] < MAXIMUM_CHARGE[currency]


@pytest.mark.parametrize(
    ("currency", "minimum"),
    [
        ("USD", "0.50"),
        ("EUR", "0.50"),
        ("CHF", "0.50"),
        ("CAD", "0.50"),
        ("AUD", "0.50"),
        ("GBP", "0.30"),
        ("SEK", "3.00"),
        ("JPY", "50"),
        ("KRW", "500"),
        ("KWD", "0.100"),
        ("BHD", "0.100"),
    ],
)
def test_minimum_charge_is_accepted_and_one_minor_unit_less_is_not(currency, minimum):
    """Given the documented minimum, when it is charged it passes; one minor unit less fails."""
    assert check_payment(payment(amount=minimum, currency=currency)) == []
    below = Decimal(minimum) - one_minor_unit(currency)

    assert check_payment(payment(amount=str(below), currency=currency)) == ["amount_below_minimum"]


@pytest.mark.parametrize("currency", sorted(SUPPORTED_CURRENCIES))
def test_maximum_charge_is_accepted_and_one_minor_unit_more_is_not(currency):
    maximum = MAXIMUM_CHARGE[currency]
    assert check_payment(payment(amount=str(maximum), currency=currency)) == []

    above = maximum + one_minor_unit(currency)

    assert check_payment(payment(amount=str(above), currency=currency)) == ["amount_above_maximum"]


def test_usd_maximum_is_ten_thousand():
    assert MAXIMUM_CHARGE["USD"] == Decimal("10000.00")


@pytest.mark.parametrize(("amount", "currency"), [("12.345", "USD"), ("100.5", "JPY"), ("1.0001", "KWD")])
def test_more_decimal_places_than_the_currency_has_fail(amount, currency):
    assert "amount_too_many_decimals" in check_payment(payment(amount=amount, currency=currency))


@pytest.mark.parametrize(
    ("amount", "currency"), [("12.340", "USD"), ("100.00", "JPY"), ("12", "USD"), ("1.5", "KWD")]
)
def test_trailing_zeros_and_fewer_decimals_are_the_same_money_and_pass(amount, currency):
    assert check_payment(payment(amount=amount, currency=currency)) == []


def test_decimal_places_are_counted_exactly_beyond_the_decimal_context_precision():
    """Given 40 significant digits, the check still sees the one extra decimal (no rounding first)."""
    amount = "1." + "0" * 38 + "1"

    assert "amount_too_many_decimals" in check_payment(payment(amount=amount))


def test_unsupported_currency_is_one_reason_not_a_cascade_of_amount_reasons():
    assert check_payment(payment(currency="CNY")) == ["currency_not_supported"]


@pytest.mark.parametrize("amount", ["abc", "NaN", "Infinity", "-Infinity", "", "1e"])
def test_an_amount_that_is_not_a_finite_number_fails(amount):
    assert check_payment(payment(amount=amount)) == ["amount_not_a_number"]


@pytest.mark.parametrize("amount", ["0", "0.00", "-5.00"])
def test_zero_or_negative_amounts_fail_once(amount):
    assert check_payment(payment(amount=amount)) == ["amount_not_positive"]


@pytest.mark.parametrize("merchant_id", ["m_1", "m_ABCdef123", "m_" + "a" * 32])
def test_well_formed_merchant_ids_pass(merchant_id):
    assert check_payment(payment(merchant_id=merchant_id)) == []


@pytest.mark.parametrize(
    "merchant_id", ["", "m_", "m_" + "a" * 33, "merchant_1", "M_123", "m_abc-def", "m_abc\n", " m_1", "m_é"]
)
def test_malformed_merchant_ids_fail(merchant_id):
    assert check_payment(payment(merchant_id=merchant_id)) == ["merchant_id_invalid"]


@pytest.mark.parametrize("token", ["tok_abcd", "tok_visa_4242", "tok_" + "A" * 64])
def test_well_formed_tokens_pass(token):
    assert check_payment(payment(payment_method={"token": token})) == []


@pytest.mark.parametrize(
    "token", ["", "tok_abc", "tok_" + "a" * 65, "visa_4242", "tok_ab-cd", "tok_abcd\n", "TOK_abcd"]
)
def test_malformed_tokens_fail(token):
    assert check_payment(payment(payment_method={"token": token})) == ["token_invalid"]


@pytest.mark.parametrize("last4", ["", "424", "42424", "abcd"])
def test_last4_must_be_four_digits(last4):
    assert check_payment(payment(payment_method={"last4": last4})) == ["last4_invalid"]


def test_amex_is_not_accepted_in_krw():
    assert check_payment(payment(amount="10000", currency="KRW", payment_method={"brand": "amex"})) == [
        "brand_currency_not_accepted"
    ]


def test_amex_is_accepted_in_usd():
    assert check_payment(payment(payment_method={"brand": "amex"})) == []


@pytest.mark.parametrize(
    ("brand", "currency", "amount"),
    [
        ("discover", "EUR", "10.00"),
        ("unionpay", "SEK", "100.00"),
        ("jcb", "KWD", "1.000"),
        ("jcb", "CHF", "10.00"),
    ],
)
def test_brand_outside_its_accepted_currencies_is_declined(brand, currency, amount):
    reasons = check_payment(payment(amount=amount, currency=currency, payment_method={"brand": brand}))

    assert reasons == ["brand_currency_not_accepted"]


@pytest.mark.parametrize("brand", ["visa", "mastercard"])
@pytest.mark.parametrize("currency", sorted(SUPPORTED_CURRENCIES))
def test_visa_and_mastercard_are_accepted_in_every_supported_currency(brand, currency):
    amount = str(MINIMUM_CHARGE[currency])

    assert check_payment(payment(amount=amount, currency=currency, payment_method={"brand": brand})) == []


def test_brand_matrix_only_names_supported_currencies():
    for accepted in BRAND_CURRENCIES.values():
        assert accepted <= SUPPORTED_CURRENCIES


def test_unknown_brand_is_not_supported():
    assert check_payment(payment(payment_method={"brand": "diners"})) == ["brand_not_supported"]


def test_card_payment_without_card_country_fails():
    assert check_payment(payment(payment_method={"country": None})) == ["card_country_missing"]


@pytest.mark.parametrize("country", ["us", "USA", "U1"])
def test_card_country_must_be_an_alpha2_code(country):
    assert check_payment(payment(payment_method={"country": country})) == ["card_country_invalid"]


def test_a_method_other_than_card_is_not_supported():
    assert check_payment(payment(payment_method={"type": "bank_transfer"})) == [
        "payment_method_not_supported"
    ]


def test_every_broken_rule_is_reported_in_table_order():
    """Given several defects, when checked, all reasons come back at once, in the documented order."""
    broken = payment(
        amount="0.10",
        currency="KRW",
        merchant_id="shop",
        payment_method={"token": "card", "brand": "amex", "country": None},
    )

    assert check_payment(broken) == [
        "amount_too_many_decimals",
        "amount_below_minimum",
        "merchant_id_invalid",
        "token_invalid",
        "brand_currency_not_accepted",
        "card_country_missing",
    ]


def test_a_float_amount_is_refused_at_the_boundary():
    """Given a binary float, the exact amount is already lost, so parsing refuses it."""
    with pytest.raises(ValidationError):
        PaymentToValidate.model_validate({"amount": 12.34, "currency": "USD"})


def test_integer_and_decimal_amounts_are_read_exactly():
    assert PaymentToValidate.model_validate({"amount": 50, "currency": "JPY"}).amount == "50"
    assert PaymentToValidate.model_validate({"amount": Decimal("12.30"), "currency": "USD"}).amount == "12.30"


@given(
    currency=st.sampled_from(sorted(SUPPORTED_CURRENCIES)),
    fraction=st.integers(min_value=0, max_value=10**6),
)
def test_any_exact_amount_between_the_limits_passes(currency, fraction):
    """Property: an amount in [minimum, maximum], exact in minor units, passes for a visa card."""
    low, high = MINIMUM_CHARGE[currency], MAXIMUM_CHARGE[currency]
    amount = (low + (high - low) * fraction / 10**6).quantize(one_minor_unit(currency), rounding="ROUND_DOWN")

    assert check_payment(payment(amount=str(amount), currency=currency)) == []


@given(
    amount=st.decimals(allow_nan=True, allow_infinity=True, places=None),
    currency=st.sampled_from([*sorted(SUPPORTED_CURRENCIES), "CNY", ""]),
)
def test_rules_never_raise_and_only_report_known_codes(amount, currency):
    """Property: any amount/currency yields a list of documented codes, never an exception."""
    known = {
        "currency_not_supported",
        "amount_not_a_number",
        "amount_not_positive",
        "amount_too_many_decimals",
        "amount_below_minimum",
        "amount_above_maximum",
        "brand_currency_not_accepted",
    }

    reasons = check_payment(payment(amount=str(amount), currency=currency))

    assert set(reasons) <= known
    assert len(reasons) == len(set(reasons))
