"""The fraud Lambda on the deployed stack: scores, velocity through the by_customer index, writes."""

from datetime import timedelta

from payments_core.clock import iso, utc_now
from tests.factories import fresh_payment as payment
from tests.integration.workflow_support import (
    audit_row,
    new_transaction_id,
    raw_transaction,
    seed_transaction,
    transaction,
    workflow_input,
)


def test_quiet_payment_is_approved_with_its_score_stored_as_a_string(stack):
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)

    result = stack.invoke("FraudFunction", workflow_input(transaction_id, document))

    assert (result["outcome"], result["score"], result["reasons"]) == ("APPROVE", "0.00", [])
    assert transaction(stack, transaction_id)["fraud"] == result
    assert raw_transaction(stack, transaction_id)["fraud"]["M"]["score"] == {"S": "0.00"}
    row = audit_row(stack, transaction_id, "fraud#completed")
    assert (row["action"], row["actor"], row["outcome"]) == ("fraud.approved", "fraud", "APPROVE")
    assert row["detail"]["score"] == "0.00"


def test_velocity_counts_the_customers_recent_transactions_but_not_older_ones_or_itself(stack):
    """Given 5 of the customer's transactions in the last 10 minutes and 3 older, velocity is elevated."""
    document = payment()
    now = utc_now()
    for minutes_ago in (1, 2, 3, 4, 9):
        seed_transaction(
            stack, new_transaction_id(), document, created_at=iso(now - timedelta(minutes=minutes_ago))
        )
    for minutes_ago in (11, 30, 600):
        seed_transaction(
            stack, new_transaction_id(), document, created_at=iso(now - timedelta(minutes=minutes_ago))
        )
    transaction_id = new_transaction_id()
    seed_transaction(stack, transaction_id, document, created_at=iso(now))

    result = stack.invoke("FraudFunction", workflow_input(transaction_id, document))

    assert result["reasons"] == ["velocity_elevated"]
    assert result["score"] == "0.20"


def test_four_recent_transactions_are_not_a_velocity_signal(stack):
    document = payment()
    now = utc_now()
    for minutes_ago in (1, 2, 3, 4):
        seed_transaction(
            stack, new_transaction_id(), document, created_at=iso(now - timedelta(minutes=minutes_ago))
        )
    transaction_id = new_transaction_id()
    seed_transaction(stack, transaction_id, document, created_at=iso(now))

    result = stack.invoke("FraudFunction", workflow_input(transaction_id, document))

    assert result["reasons"] == []


def test_high_risk_payment_is_declined_and_audited_as_declined(stack):
    transaction_id = new_transaction_id()
    document = payment(amount="8000.00", payment_method={"country": "GB"})
    seed_transaction(stack, transaction_id, document)

    result = stack.invoke("FraudFunction", workflow_input(transaction_id, document))

    assert (result["outcome"], result["score"]) == ("DECLINE", "0.80")
    assert result["reasons"] == ["amount_very_high", "round_amount", "country_mismatch"]
    assert audit_row(stack, transaction_id, "fraud#completed")["action"] == "fraud.declined"


def test_rerun_after_the_payment_is_final_returns_the_stored_decision(stack):
    transaction_id = new_transaction_id()
    document = payment()
    stored = {"outcome": "APPROVE", "score": "0.10", "reasons": ["customer_unknown"], "checked_at": "earlier"}
    seed_transaction(stack, transaction_id, document, status="DECLINED", fraud=stored)

    result = stack.invoke("FraudFunction", workflow_input(transaction_id, document))

    assert result == stored
    assert transaction(stack, transaction_id)["fraud"] == stored
