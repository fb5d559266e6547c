"""The fraud Lambda on the deployed stack: scores, velocity through the by_customer index, and no
write: its decision reaches the transaction, and its audit row, only with the final status."""

from datetime import timedelta

from payments_core.clock import iso, utc_now
from tests.factories import fresh_payment as payment
from tests.integration.workflow_support import (
    audit_row,
    audit_rows,
    dynamodb_calls,
    new_transaction_id,
    raw_transaction,
    seed_transaction,
    settlement_event,
    transaction,
    workflow_input,
)


def test_quiet_payment_is_approved_and_its_only_call_is_the_velocity_query(stack, monkeypatch):
    """Given a RECEIVED transaction, fraud approves it with a read of the customer's index alone:
    the item is as ingest put it."""
    transaction_id = new_transaction_id()
    document = payment()
    seeded = seed_transaction(stack, transaction_id, document)

    with dynamodb_calls(monkeypatch) as calls:
        result = stack.invoke("FraudFunction", workflow_input(transaction_id, document))

    assert (result["outcome"], result["score"], result["reasons"]) == ("APPROVE", "0.00", [])
    assert [(operation, params.get("IndexName")) for operation, params in calls] == [("Query", "by_customer")]
    assert transaction(stack, transaction_id) == seeded
    assert [row["sk"] for row in audit_rows(stack, transaction_id)] == ["ingest#received"]


def test_the_decision_is_stored_with_the_final_status_its_score_as_a_string(stack):
    """Given fraud's decision passed on to settle, the settled item holds it with the score a
    DynamoDB string (never a number), and the stream writes its row at the scoring time."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    result = stack.invoke("FraudFunction", workflow_input(transaction_id, document))
    validation = stack.invoke("ValidationFunction", workflow_input(transaction_id, document))

    stack.invoke(
        "SettlementFunction",
        settlement_event(
            "settle", transaction_id, document, checks={"validation": validation, "fraud": result}
        ),
    )

    assert transaction(stack, transaction_id)["fraud"] == result
    assert raw_transaction(stack, transaction_id)["fraud"]["M"]["score"] == {"S": "0.00"}
    row = audit_row(stack, transaction_id, "fraud#completed")
    assert (row["action"], row["actor"], row["outcome"], row["at"]) == (
        "fraud.approved",
        "fraud",
        "APPROVE",
        result["checked_at"],
    )
    assert row["detail"] == {"outcome": "APPROVE", "score": "0.00", "reasons": []}


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
    """Given a high-risk payment, fraud answers DECLINE with its reasons; the decline that follows
    records the decision and audits fraud as declined."""
    transaction_id = new_transaction_id()
    document = payment(amount="8000.00", payment_method={"country": "GB"})
    seeded = seed_transaction(stack, transaction_id, document)

    result = stack.invoke("FraudFunction", workflow_input(transaction_id, document))

    assert (result["outcome"], result["score"]) == ("DECLINE", "0.80")
    assert result["reasons"] == ["amount_very_high", "round_amount", "country_mismatch"]
    assert transaction(stack, transaction_id) == seeded

    stack.invoke(
        "SettlementFunction", settlement_event("decline", transaction_id, document, checks={"fraud": result})
    )

    item = transaction(stack, transaction_id)
    assert (item["status"], item["fraud"]) == ("DECLINED", result)
    assert item["decline_reasons"] == ["fraud_risk_too_high", *result["reasons"]]
    row = audit_row(stack, transaction_id, "fraud#completed")
    assert (row["action"], row["detail"]["score"]) == ("fraud.declined", "0.80")


def test_rerun_after_the_payment_is_final_scores_again_and_leaves_the_stored_decision(stack):
    """Given a DECLINED transaction, a late re-run scores afresh and writes nothing: the stored
    decision, and its row, are the ones of the attempt that completed."""
    transaction_id = new_transaction_id()
    document = payment()
    stored = {
        "outcome": "DECLINE",
        "score": "0.80",
        "reasons": ["amount_very_high"],
        "checked_at": "2026-01-01T00:00:00.000000Z",
    }
    seed_transaction(stack, transaction_id, document)
    stack.invoke(
        "SettlementFunction", settlement_event("decline", transaction_id, document, checks={"fraud": stored})
    )
    before = transaction(stack, transaction_id)
    row = audit_row(stack, transaction_id, "fraud#completed")

    result = stack.invoke("FraudFunction", workflow_input(transaction_id, document))

    assert (result["outcome"], result["score"], result["reasons"]) == ("APPROVE", "0.00", [])
    assert (before["status"], before["fraud"]) == ("DECLINED", stored)
    assert transaction(stack, transaction_id) == before
    assert audit_row(stack, transaction_id, "fraud#completed") == row
    assert row["at"] == stored["checked_at"]
