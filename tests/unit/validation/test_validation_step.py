"""The validation step: the result it returns, and that it writes nothing."""

from datetime import UTC, datetime

from tests.factories import payment
from validation_svc.logic import validate_payment
from validation_svc.models import ValidationRequest

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def request(**payment_changes):
    return ValidationRequest.model_validate(
        {
            "transaction_id": "6b0e3c1e-0000-5000-8000-000000000001",
            "payment": payment(**payment_changes),
            "received_at": "x",
        }
    )


def test_a_passing_payment_is_a_pass_with_when_it_was_checked():
    result = validate_payment(request(), clock=lambda: NOW)

    assert result.model_dump() == {
        "outcome": "PASS",
        "reasons": [],
        "checked_at": "2026-03-01T12:00:00.000000Z",
    }


def test_a_failing_payment_is_a_fail_outcome_with_reasons_not_an_error():
    result = validate_payment(request(amount="0.10"), clock=lambda: NOW)

    assert result.outcome == "FAIL"
    assert result.reasons == ["amount_below_minimum"]
