"""The validation Lambda on the deployed stack: what it returns, and that it writes nothing. Its
result reaches the transaction, and its audit row, only with the final status (settle's write)."""

import pytest

from payctl.runtime import LambdaFunctionError
from tests.factories import fresh_payment as payment
from tests.integration.workflow_support import (
    audit_row,
    audit_rows,
    dynamodb_calls,
    new_transaction_id,
    seed_transaction,
    settlement_event,
    transaction,
    workflow_input,
)


def sks(stack, transaction_id):
    return sorted(row["sk"] for row in audit_rows(stack, transaction_id))


def test_passing_payment_is_returned_and_nothing_is_written(stack, monkeypatch):
    """Given a RECEIVED transaction, validation answers PASS without a single DynamoDB call: the
    item is as ingest put it, and the only row is ingest's."""
    transaction_id = new_transaction_id()
    document = payment()
    seeded = seed_transaction(stack, transaction_id, document)

    with dynamodb_calls(monkeypatch) as calls:
        result = stack.invoke("ValidationFunction", workflow_input(transaction_id, document))

    assert (result["outcome"], result["reasons"]) == ("PASS", [])
    assert set(result) == {"outcome", "reasons", "checked_at"}
    assert calls == []
    assert transaction(stack, transaction_id) == seeded
    assert sks(stack, transaction_id) == ["ingest#received"]


def test_the_result_is_recorded_with_the_final_status_and_audited_at_its_check_time(stack):
    """Given validation's result passed on to settle, the settled item holds it and the stream
    writes its row, stamped when the check ran."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    result = stack.invoke("ValidationFunction", workflow_input(transaction_id, document))
    fraud = stack.invoke("FraudFunction", workflow_input(transaction_id, document))

    stack.invoke(
        "SettlementFunction",
        settlement_event("settle", transaction_id, document, checks={"validation": result, "fraud": fraud}),
    )

    assert transaction(stack, transaction_id)["validation"] == result
    row = audit_row(stack, transaction_id, "validation#completed")
    assert (row["action"], row["actor"], row["outcome"], row["at"]) == (
        "validation.passed",
        "validation",
        "PASS",
        result["checked_at"],
    )
    assert row["detail"] == {"outcome": "PASS", "reasons": []}


def test_business_rule_failure_is_a_fail_result_not_an_error(stack):
    """Given a brand the currency does not accept, the result is FAIL with the reason (nothing is
    written); the decline that follows records it and audits validation as failed."""
    transaction_id = new_transaction_id()
    document = payment(amount="10000", currency="KRW", payment_method={"brand": "amex"})
    seeded = seed_transaction(stack, transaction_id, document)

    result = stack.invoke("ValidationFunction", workflow_input(transaction_id, document))

    assert result["outcome"] == "FAIL"
    assert result["reasons"] == ["brand_currency_not_accepted"]
    assert transaction(stack, transaction_id) == seeded

    stack.invoke(
        "SettlementFunction",
        settlement_event("decline", transaction_id, document, checks={"validation": result}),
    )

    item = transaction(stack, transaction_id)
    assert (item["status"], item["decline_reasons"]) == ("DECLINED", ["brand_currency_not_accepted"])
    assert item["validation"]["reasons"] == ["brand_currency_not_accepted"]
    row = audit_row(stack, transaction_id, "validation#completed")
    assert (row["action"], row["detail"]["reasons"]) == ("validation.failed", ["brand_currency_not_accepted"])


def test_rerun_after_the_payment_is_final_checks_again_and_leaves_the_stored_result(stack):
    """Given a SETTLED transaction, a late re-run writes nothing: the stored result, and its row,
    are the ones of the attempt that completed; the re-run only answers with a fresh check."""
    transaction_id = new_transaction_id()
    document = payment()
    stored = {"outcome": "PASS", "reasons": [], "checked_at": "2026-01-01T00:00:00.000000Z"}
    seed_transaction(stack, transaction_id, document)
    stack.invoke(
        "SettlementFunction",
        settlement_event("settle", transaction_id, document, checks={"validation": stored}),
    )
    before = transaction(stack, transaction_id)
    row = audit_row(stack, transaction_id, "validation#completed")

    result = stack.invoke("ValidationFunction", workflow_input(transaction_id, document))

    assert (result["outcome"], result["reasons"]) == ("PASS", [])
    assert result["checked_at"] != stored["checked_at"]
    assert (before["status"], before["validation"]) == ("SETTLED", stored)
    assert transaction(stack, transaction_id) == before
    assert audit_row(stack, transaction_id, "validation#completed") == row
    assert row["at"] == stored["checked_at"]


def test_running_validation_twice_writes_nothing_and_only_the_completing_attempt_is_audited(stack):
    """Given validation run twice (Express runs a step at least once), both runs agree and neither
    writes; the one result that settle records is the one validation row."""
    transaction_id = new_transaction_id()
    document = payment()
    seeded = seed_transaction(stack, transaction_id, document)

    first = stack.invoke("ValidationFunction", workflow_input(transaction_id, document))
    second = stack.invoke("ValidationFunction", workflow_input(transaction_id, document))

    assert (first["outcome"], first["reasons"]) == (second["outcome"], second["reasons"])
    assert transaction(stack, transaction_id) == seeded
    assert sks(stack, transaction_id) == ["ingest#received"]

    stack.invoke(
        "SettlementFunction",
        settlement_event("settle", transaction_id, document, checks={"validation": second}),
    )

    assert sks(stack, transaction_id) == ["ingest#received", "settlement#settled", "validation#completed"]
    assert audit_row(stack, transaction_id, "validation#completed")["at"] == second["checked_at"]


def test_validation_of_a_payment_not_yet_received_writes_nothing(stack):
    """Given a branch that runs before ingest's item is visible, validation still answers and
    creates no item: nothing is recorded until the final write."""
    transaction_id = new_transaction_id()
    document = payment()

    result = stack.invoke("ValidationFunction", workflow_input(transaction_id, document))

    assert result["outcome"] == "PASS"
    assert transaction(stack, transaction_id) is None
    assert audit_rows(stack, transaction_id) == []


def test_float_amount_is_refused_before_anything_is_written(stack):
    """Given an amount sent as a JSON number with a fraction, the handler errors and writes nothing."""
    transaction_id = new_transaction_id()
    document = payment()
    seeded = seed_transaction(stack, transaction_id, document)

    with pytest.raises(LambdaFunctionError) as raised:
        stack.invoke("ValidationFunction", workflow_input(transaction_id, {**document, "amount": 12.34}))

    assert raised.value.error_type == "ValidationError"
    assert "12.34" not in raised.value.error_message
    assert transaction(stack, transaction_id) == seeded
    assert sks(stack, transaction_id) == ["ingest#received"]
