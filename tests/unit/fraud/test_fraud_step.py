"""The fraud step: the velocity window it asks for, and that it writes nothing."""

from datetime import UTC, datetime

from fraud_svc.logic import score_payment
from fraud_svc.models import FraudRequest
from tests.factories import payment

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
TRANSACTION_ID = "6b0e3c1e-0000-5000-8000-000000000002"


class FakeVelocity:
    def __init__(self, count=0):
        self.count = count
        self.asked = []

    def recent_transactions(self, customer_id, since, exclude_transaction_id):
        self.asked.append((customer_id, since, exclude_transaction_id))
        return self.count


def request(customer=True, **payment_changes):
    changes = payment_changes if customer else {"customer": None, **payment_changes}
    return FraudRequest.model_validate({"transaction_id": TRANSACTION_ID, "payment": payment(**changes)})


def test_velocity_is_counted_over_the_last_ten_minutes_excluding_this_payment():
    velocity = FakeVelocity()

    score_payment(request(), velocity, clock=lambda: NOW)

    assert velocity.asked == [("c_42", "2026-03-01T11:50:00.000000Z", TRANSACTION_ID)]


def test_no_customer_means_no_velocity_query():
    velocity = FakeVelocity()

    result = score_payment(request(customer=False), velocity, clock=lambda: NOW)

    assert velocity.asked == []
    assert result.reasons == ["customer_unknown"]


def test_an_approved_payment_carries_its_score_as_a_string_and_when_it_was_scored():
    result = score_payment(request(), FakeVelocity(), clock=lambda: NOW)

    assert result.model_dump() == {
        "outcome": "APPROVE",
        "score": "0.00",
        "reasons": [],
        "checked_at": "2026-03-01T12:00:00.000000Z",
    }


def test_a_burst_with_a_high_amount_is_declined():
    """Given 12 recent transactions and a round USD 8,000, the score passes 0.75 and the payment declines."""
    result = score_payment(request(amount="8000.00"), FakeVelocity(12), clock=lambda: NOW)

    assert result.outcome == "DECLINE"
    assert result.score == "1.00"
    assert result.reasons == ["amount_very_high", "round_amount", "velocity_high"]


def test_a_rerun_scores_with_the_velocity_of_its_own_time():
    """Nothing is stored by the step: a re-run that sees a burst scores it (only the attempt that
    completes is recorded, with the final status)."""
    first = score_payment(request(amount="8000.00"), FakeVelocity(0), clock=lambda: NOW)
    again = score_payment(request(amount="8000.00"), FakeVelocity(12), clock=lambda: NOW)

    assert (first.outcome, again.outcome) == ("APPROVE", "DECLINE")
