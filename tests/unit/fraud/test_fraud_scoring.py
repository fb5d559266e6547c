"""Fraud scoring: each weighted rule, its thresholds, the decline threshold and the score's range."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fraud_svc.logic import (
    AMOUNT_TIERS,
    DECLINE_THRESHOLD,
    HIGH_RISK_COUNTRIES,
    ROUND_UNIT_ZEROS,
    USD_PER_UNIT,
    VELOCITY_TIERS,
    WEIGHTS,
    assess,
    is_round,
)
from fraud_svc.models import FraudResult, PaymentToScore
from payments_core.money import SUPPORTED_CURRENCIES
from payments_core.payloads import ValidationError
from tests import factories


def payment(amount="12.34", currency="USD", card_country="US", customer=("c_42", "US")):
    """The example payment as fraud reads it, with the fields scoring looks at changed."""
    document = factories.payment(
        amount=amount,
        currency=currency,
        payment_method={"country": card_country},
        customer=None if customer is None else {"id": customer[0], "country": customer[1]},
    )
    return PaymentToScore.model_validate(document)


def test_a_quiet_domestic_payment_scores_zero_and_is_approved():
    assessment = assess(payment(), recent_transactions=0)

    assert assessment.score == Decimal("0.00")
    assert assessment.reasons == ()
    assert not assessment.declined


def test_rate_and_round_unit_tables_cover_every_supported_currency():
    assert set(USD_PER_UNIT) == set(ROUND_UNIT_ZEROS) == SUPPORTED_CURRENCIES


def test_every_rule_code_has_a_weight_between_zero_and_one():
    assert all(Decimal(0) < weight <= Decimal(1) for weight in WEIGHTS.values())
    assert {code for _, _, code in AMOUNT_TIERS + VELOCITY_TIERS} <= set(WEIGHTS)


@pytest.mark.parametrize(
    ("amount", "reasons"),
    [
        ("999.99", ()),
        ("1000.01", ("amount_elevated",)),
        ("2999.99", ("amount_elevated",)),
        ("3000.01", ("amount_high",)),
        ("7499.99", ("amount_high",)),
        ("7500.01", ("amount_very_high",)),
    ],
)
def test_only_the_highest_amount_tier_applies(amount, reasons):
    assert assess(payment(amount=amount), 0).reasons == reasons


def test_amount_tiers_use_the_usd_equivalent():
    """Given EUR 925.93 (about USD 1,000.00 at the indicative 1.08), the elevated tier fires."""
    assert assess(payment(amount="925.93", currency="EUR"), 0).reasons == ("amount_elevated",)
    assert assess(payment(amount="925.92", currency="EUR"), 0).reasons == ()


def test_round_amount_fires_only_at_high_values():
    assert assess(payment(amount="500.00"), 0).reasons == ()
    assert assess(payment(amount="5000.00"), 0).reasons == ("amount_high", "round_amount")
    assert assess(payment(amount="5000.50"), 0).reasons == ("amount_high",)


def test_round_amount_uses_the_currencys_own_round_unit():
    """Given JPY, round means a multiple of 10,000 yen, not of 100."""
    assert assess(payment(amount="1000000", currency="JPY"), 0).reasons == ("amount_high", "round_amount")
    assert assess(payment(amount="1000100", currency="JPY"), 0).reasons == ("amount_high",)


@pytest.mark.parametrize(
    ("amount", "zeros", "expected"),
    [
        ("5000.00", 2, True),
        ("5000.50", 2, False),
        ("1E+3", 2, True),
        ("1E+30", 4, True),
        ("100", 3, False),
        ("0", 2, False),
    ],
)
def test_is_round_reads_trailing_zeros_exactly(amount, zeros, expected):
    assert is_round(Decimal(amount), zeros) is expected


def test_card_and_customer_in_different_countries_add_a_mismatch():
    assessment = assess(payment(card_country="GB"), 0)

    assert assessment.reasons == ("country_mismatch",)
    assert assessment.score == Decimal("0.25")


@pytest.mark.parametrize("country", sorted(HIGH_RISK_COUNTRIES))
def test_high_risk_card_country_alone_is_not_a_decline_but_with_a_mismatch_it_is(country):
    alone = assess(payment(card_country=country, customer=("c_1", country)), 0)
    mismatched = assess(payment(card_country=country, customer=("c_1", "US")), 0)

    assert alone.reasons == ("card_country_high_risk", "customer_country_high_risk")
    assert alone.score == Decimal("0.85")
    assert mismatched.reasons == ("country_mismatch", "card_country_high_risk")
    assert mismatched.score == DECLINE_THRESHOLD
    assert mismatched.declined


def test_high_risk_customer_country_is_weighted():
    assessment = assess(payment(card_country="US", customer=("c_1", "IR")), 0)

    assert assessment.reasons == ("country_mismatch", "customer_country_high_risk")
    assert assessment.score == Decimal("0.60")


def test_missing_card_country_adds_a_small_weight():
    assert assess(payment(card_country=None), 0).reasons == ("card_country_unknown",)


def test_payment_without_customer_cannot_be_velocity_checked():
    assessment = assess(payment(customer=None), None)

    assert assessment.reasons == ("customer_unknown",)
    assert assessment.score == Decimal("0.10")


@pytest.mark.parametrize(
    ("recent", "reasons"),
    [(0, ()), (4, ()), (5, ("velocity_elevated",)), (9, ("velocity_elevated",)), (10, ("velocity_high",))],
)
def test_velocity_tiers(recent, reasons):
    assert assess(payment(), recent).reasons == reasons


@pytest.mark.parametrize(
    ("amount", "card_country", "score", "declined"),
    [("12.34", "US", "0.00", False), ("5000.00", "GB", "0.65", False), ("8000.00", "GB", "0.80", True)],
)
def test_documented_worked_examples(amount, card_country, score, declined):
    """Given the docstring's examples for a US customer, the scores and decisions match."""
    assessment = assess(payment(amount=amount, card_country=card_country), 0)

    assert assessment.score == Decimal(score)
    assert assessment.declined is declined


def test_score_is_capped_at_one():
    worst = payment(amount="9000.00", card_country="KP", customer=("c_1", "IR"))

    assessment = assess(worst, 25)

    assert assessment.score == Decimal("1.00")
    assert assessment.declined


def test_unpriced_currency_and_unreadable_amount_are_scored_not_raised():
    assert assess(payment(currency="CNY"), 0).reasons == ("currency_not_priced",)
    assert assess(payment(amount="not-money"), 0).reasons == ("amount_unreadable",)
    assert assess(payment(amount="Infinity"), 0).reasons == ("amount_unreadable",)


def test_decline_threshold_is_three_quarters():
    assert Decimal("0.75") == DECLINE_THRESHOLD


def test_result_score_must_be_a_two_place_string():
    with pytest.raises(ValidationError):
        FraudResult(outcome="APPROVE", score="0.5", reasons=[], checked_at="x")
    with pytest.raises(ValidationError):
        FraudResult(outcome="APPROVE", score="1.01", reasons=[], checked_at="x")


def test_a_float_amount_is_refused_at_the_boundary():
    with pytest.raises(ValidationError):
        PaymentToScore.model_validate({"amount": 12.34, "currency": "USD"})


countries = st.sampled_from(["US", "GB", "DE", "JP", "KP", "IR", "MM", None])


@given(
    amount=st.decimals(allow_nan=True, allow_infinity=True),
    currency=st.sampled_from([*sorted(SUPPORTED_CURRENCIES), "CNY"]),
    card_country=countries,
    customer_country=countries,
    has_customer=st.booleans(),
    recent=st.integers(min_value=0, max_value=10_000),
)
def test_score_is_always_a_two_place_decimal_in_zero_to_one(
    amount, currency, card_country, customer_country, has_customer, recent
):
    """Property: any input scores within [0, 1] at two places, and declines exactly from 0.75."""
    subject = payment(
        amount=str(amount),
        currency=currency,
        card_country=card_country,
        customer=("c_1", customer_country) if has_customer else None,
    )

    assessment = assess(subject, recent if has_customer else None)

    assert Decimal(0) <= assessment.score <= Decimal(1)
    assert assessment.score.as_tuple().exponent == -2
    assert assessment.declined is (assessment.score >= DECLINE_THRESHOLD)
    assert FraudResult(outcome="APPROVE", score=str(assessment.score), reasons=[], checked_at="x")
    assert assess(subject, recent if has_customer else None) == assessment
