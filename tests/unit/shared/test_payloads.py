"""The workflow steps' payloads, read by hand the way pydantic's lax mode reads JSON: strings only,
defaults for what is missing, null only where a field is optional, unknown fields ignored, and no
input quoted in an error."""

from __future__ import annotations

import pytest

from fraud_svc.models import FraudRequest, FraudResult
from payments_core.errors import InvalidAmount, UnsupportedCurrency
from payments_core.payloads import ValidationError
from settlement_svc.models import DeclineRequest, FailRequest, SettleRequest, read_request
from tests.factories import payment
from validation_svc.models import ValidationRequest

TRANSACTION_ID = "6b0e3c1e-0000-5000-8000-000000000001"


def validation_request(**changes):
    return ValidationRequest.model_validate(
        {"transaction_id": TRANSACTION_ID, "payment": payment(), **changes}
    )


def test_unknown_fields_are_ignored_and_missing_ones_take_their_defaults():
    request = ValidationRequest.model_validate(
        {"transaction_id": TRANSACTION_ID, "payment": {"amount": "1.00", "extra": 1}, "other": True}
    )

    assert request.payment.currency == ""
    assert request.payment.payment_method.type == "card"
    assert request.payment.customer is None
    assert request.received_at is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"transaction_id": ""}, "transaction_id"),
        ({"transaction_id": "x" * 65}, "transaction_id"),
        ({"transaction_id": 7}, "transaction_id"),
        ({"payment": None}, "payment"),
        ({"payment": {**payment(), "currency": None}}, "payment.currency"),
        ({"payment": {**payment(), "merchant_id": 42}}, "payment.merchant_id"),
        ({"payment": {**payment(), "payment_method": None}}, "payment.payment_method"),
        ({"payment": {**payment(), "customer": "c_1"}}, "payment.customer"),
        ({"payment": {**payment(), "amount": True}}, "payment.amount"),
    ],
)
def test_a_field_of_the_wrong_type_names_the_field_and_never_its_value(changes, field):
    with pytest.raises(ValidationError) as raised:
        validation_request(**changes)

    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")
    assert "42" not in str(raised.value) and "c_1" not in str(raised.value)


def test_a_result_dumps_as_it_was_made_and_refuses_an_unknown_outcome():
    made = {"outcome": "DECLINE", "score": "0.80", "reasons": ["velocity"], "checked_at": "t"}

    assert FraudResult(**made).model_dump() == made
    with pytest.raises(ValidationError):
        FraudResult(**{**made, "outcome": "MAYBE"})
    with pytest.raises(ValidationError):
        FraudRequest.model_validate({"payment": payment()})


def settle_event(**payment_changes):
    return {
        "action": "settle",
        "transaction_id": TRANSACTION_ID,
        "payment": {**payment(), **payment_changes},
        "received_at": "2026-03-02T09:00:00.000000Z",
    }


def test_settle_reads_its_amount_exactly_in_its_currency():
    request = read_request(settle_event(amount="12.30", currency="USD"))

    assert isinstance(request, SettleRequest)
    assert str(request.payment.amount) == "12.30"
    assert request.checks.validation is None


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"amount": 12.34}, InvalidAmount),
        ({"amount": "12.345"}, InvalidAmount),
        ({"amount": "-1"}, InvalidAmount),
        ({"currency": "XTS"}, UnsupportedCurrency),
        ({"merchant_id": ""}, ValidationError),
        ({"reference": "r" * 129}, ValidationError),
    ],
)
def test_settle_refuses_a_payment_it_cannot_move_money_for(changes, error):
    with pytest.raises(error):
        read_request(settle_event(**changes))


def test_the_action_selects_the_request_and_an_unknown_one_is_refused():
    assert isinstance(read_request({"action": "decline", "transaction_id": TRANSACTION_ID}), DeclineRequest)
    failed = read_request({"action": "fail", "transaction_id": TRANSACTION_ID, "execution": "tx-2"})
    assert isinstance(failed, FailRequest)
    assert failed.execution_name == "tx-2"
    with pytest.raises(ValidationError, match="action"):
        read_request({"action": "refund", "transaction_id": TRANSACTION_ID})
    with pytest.raises(ValidationError, match="checks"):
        read_request({"action": "decline", "transaction_id": TRANSACTION_ID, "checks": None})
