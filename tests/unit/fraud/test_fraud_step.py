"""The fraud step: the velocity window it asks for, what it stores and audits, and re-runs."""

from datetime import UTC, datetime

from fraud_svc.logic import FraudPorts, score_payment
from fraud_svc.models import FraudRequest
from tests.factories import payment
from tests.fakes import FakeAudit, FakeStore

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

    score_payment(
        request(), FraudPorts(velocity=velocity, store=FakeStore(), audit=FakeAudit()), clock=lambda: NOW
    )

    assert velocity.asked == [("c_42", "2026-03-01T11:50:00.000000Z", TRANSACTION_ID)]


def test_no_customer_means_no_velocity_query():
    velocity = FakeVelocity()

    scored = score_payment(
        request(customer=False),
        FraudPorts(velocity=velocity, store=FakeStore(), audit=FakeAudit()),
        clock=lambda: NOW,
    )

    assert velocity.asked == []
    assert scored.result.reasons == ["customer_unknown"]


def test_an_approved_payment_is_stored_with_its_score_as_a_string_and_audited():
    store, audit = FakeStore(), FakeAudit()

    scored = score_payment(
        request(), FraudPorts(velocity=FakeVelocity(), store=store, audit=audit), clock=lambda: NOW
    )

    assert store.written == [
        (
            TRANSACTION_ID,
            {
                "outcome": "APPROVE",
                "score": "0.00",
                "reasons": [],
                "checked_at": "2026-03-01T12:00:00.000000Z",
            },
        )
    ]
    (row,) = audit.rows.values()
    assert (row.step, row.event, row.action, row.actor, row.outcome) == (
        "fraud",
        "completed",
        "fraud.approved",
        "fraud",
        "APPROVE",
    )
    assert row.detail == {"outcome": "APPROVE", "score": "0.00", "reasons": []}
    assert scored.first_time


def test_a_burst_with_a_high_amount_is_declined():
    """Given 12 recent transactions and a round USD 8,000, the score passes 0.75 and the payment declines."""
    audit = FakeAudit()

    scored = score_payment(
        request(amount="8000.00"),
        FraudPorts(velocity=FakeVelocity(12), store=FakeStore(), audit=audit),
        clock=lambda: NOW,
    )

    assert scored.result.outcome == "DECLINE"
    assert scored.result.score == "1.00"
    assert scored.result.reasons == ["amount_very_high", "round_amount", "velocity_high"]
    (row,) = audit.rows.values()
    assert row.action == "fraud.declined"


def test_rerun_on_a_final_transaction_returns_the_stored_decision():
    earlier = {"outcome": "APPROVE", "score": "0.10", "reasons": ["amount_elevated"], "checked_at": "earlier"}
    store = FakeStore(final=True, earlier=earlier)

    scored = score_payment(
        request(amount="8000.00"),
        FraudPorts(velocity=FakeVelocity(12), store=store, audit=FakeAudit()),
        clock=lambda: NOW,
    )

    assert scored.result.model_dump() == earlier
    assert store.written == []
