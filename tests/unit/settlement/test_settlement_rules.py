"""Settlement's pure rules: the fee, decline reasons, failure text."""

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments_core.money import CURRENCY_MINOR_UNITS, SUPPORTED_CURRENCIES
from settlement_svc.logic import (
    FIXED_FEE,
    MAX_CAUSE_CHARS,
    decline_reasons,
    describe_failure,
    settlement_fee,
)
from settlement_svc.models import Checks, FailRequest
from tests.factories import payment

PAYMENT = payment()


@pytest.mark.parametrize(
    ("amount", "currency", "fee", "net"),
    [
        ("100.00", "USD", "3.20", "96.80"),
        ("12.34", "USD", "0.66", "11.68"),
        ("100.00", "EUR", "3.15", "96.85"),
        ("10000", "JPY", "320", "9680"),
        ("100000", "KRW", "3200", "96800"),
        ("10.000", "KWD", "0.390", "9.610"),
        ("100.00", "SEK", "5.40", "94.60"),
    ],
)
def test_fee_is_two_point_nine_percent_plus_the_currencys_fixed_fee(amount, currency, fee, net):
    charge = settlement_fee(Decimal(amount), currency)

    assert (str(charge.fee), str(charge.net)) == (fee, net)


@pytest.mark.parametrize(("amount", "fee"), [("5.00", "0.44"), ("15.00", "0.74")])
def test_fee_rounds_half_to_even(amount, fee):
    """Given a fee that lands exactly on half a cent (0.445, 0.735), it rounds to the even cent."""
    assert str(settlement_fee(Decimal(amount), "USD").fee) == fee


def test_fee_never_exceeds_the_amount():
    charge = settlement_fee(Decimal("0.10"), "USD")

    assert charge.fee == Decimal("0.10")
    assert charge.net == Decimal("0.00")


def test_fixed_fees_cover_every_supported_currency_in_its_minor_units():
    assert set(FIXED_FEE) == SUPPORTED_CURRENCIES
    for currency, fee in FIXED_FEE.items():
        assert fee.as_tuple().exponent == -CURRENCY_MINOR_UNITS[currency]


@given(
    currency=st.sampled_from(sorted(SUPPORTED_CURRENCIES)), minor=st.integers(min_value=1, max_value=10**15)
)
def test_fee_plus_net_is_the_amount_and_both_are_exact_in_minor_units(currency, minor):
    """Property: for any amount, fee + net == amount, 0 <= fee <= amount, both at the currency's scale."""
    exponent = -CURRENCY_MINOR_UNITS[currency]
    amount = Decimal(minor).scaleb(exponent)

    charge = settlement_fee(amount, currency)

    assert charge.fee + charge.net == amount
    assert Decimal(0) <= charge.fee <= amount
    assert charge.fee.as_tuple().exponent == exponent
    assert charge.net.as_tuple().exponent == exponent


def checks(validation=None, fraud=None):
    return Checks.model_validate({"validation": validation, "fraud": fraud})


def test_decline_reasons_carry_validation_reasons_when_validation_failed():
    reasons = decline_reasons(
        checks(
            {"outcome": "FAIL", "reasons": ["amount_below_minimum"]},
            {"outcome": "APPROVE", "score": "0.10", "reasons": ["amount_elevated"]},
        )
    )

    assert reasons == ["amount_below_minimum"]


def test_decline_reasons_mark_a_fraud_decline_and_carry_its_signals():
    reasons = decline_reasons(
        checks(
            {"outcome": "PASS", "reasons": []},
            {"outcome": "DECLINE", "score": "0.80", "reasons": ["amount_very_high", "country_mismatch"]},
        )
    )

    assert reasons == ["fraud_risk_too_high", "amount_very_high", "country_mismatch"]


def test_decline_reasons_combine_both_checks_in_order_without_duplicates():
    reasons = decline_reasons(
        checks(
            {"outcome": "FAIL", "reasons": ["card_country_missing"]},
            {
                "outcome": "DECLINE",
                "score": "0.90",
                "reasons": ["card_country_unknown", "card_country_unknown"],
            },
        )
    )

    assert reasons == ["card_country_missing", "fraud_risk_too_high", "card_country_unknown"]


def test_decline_without_a_failing_check_still_records_a_reason():
    assert decline_reasons(checks()) == ["unspecified"]


def fail_request(**fields):
    return FailRequest.model_validate(
        {"action": "fail", "transaction_id": "tx-1", "payment": PAYMENT, **fields}
    )


def test_failure_from_a_caught_task_keeps_the_error_type_and_message_not_the_stack():
    cause = json.dumps(
        {
            "errorMessage": "audit table write failed",
            "errorType": "DependencyError",
            "requestId": "r-1",
            "stackTrace": ["  File handler.py, line 1"],
        }
    )

    failure = describe_failure(fail_request(error={"Error": "DependencyError", "Cause": cause}))

    assert failure == {"error": "DependencyError", "cause": "DependencyError: audit table write failed"}


def test_failure_from_errored_checks_names_each_branch():
    """Given both branches caught errors, the failure says which branch failed with what."""
    failure = describe_failure(
        fail_request(
            error={"Error": "ChecksErrored", "Cause": "{}"},
            checks={
                "validation": {"outcome": "ERROR", "error": "Lambda.Unknown", "cause": "timed out"},
                "fraud": {"outcome": "APPROVE", "score": "0.00", "reasons": []},
            },
        )
    )

    assert failure == {"error": "Lambda.Unknown", "cause": "validation: Lambda.Unknown: timed out"}


def test_failure_cause_never_carries_payment_data():
    """Given a cause echoing the token, reference, a card-like number and pydantic input: all redacted."""
    cause = (
        "bad token tok_visa_4242 for order-1001; number 4242 4242 4242 4242; "
        "1 validation error input_value='c_42', input_type=str"
    )

    failure = describe_failure(fail_request(error={"Error": "ValueError", "Cause": cause}))

    for secret in ("tok_visa_4242", "order-1001", "4242 4242 4242 4242", "c_42"):
        assert secret not in failure["cause"]
    assert "[redacted]" in failure["cause"]


def test_failure_cause_is_truncated():
    failure = describe_failure(fail_request(error={"Error": "X", "Cause": "y" * 10_000}))

    assert len(failure["cause"]) == MAX_CAUSE_CHARS


def test_failure_without_any_error_detail_is_unknown():
    assert describe_failure(fail_request()) == {"error": "Unknown", "cause": ""}


def test_failure_of_a_payment_that_could_not_be_read_is_still_recorded():
    """Given a malformed payment (the reason the workflow failed), describing the failure does not raise."""
    request = FailRequest.model_validate(
        {
            "action": "fail",
            "transaction_id": "tx-1",
            "payment": {"payment_method": "tok_visa_4242", "customer": ["c_42"], "metadata": None},
            "error": {"Error": "ValidationError", "Cause": "bad"},
        }
    )

    assert describe_failure(request) == {"error": "ValidationError", "cause": "bad"}
