"""The validation Lambda on the deployed stack: what it returns, writes and audits."""

import pytest

from tests.factories import fresh_payment as payment
from tests.integration.workflow_support import (
    audit_row,
    audit_rows,
    new_transaction_id,
    seed_transaction,
    transaction,
    workflow_input,
)


def test_passing_payment_stores_only_the_validation_map(stack):
    """Given a RECEIVED transaction, validation sets its own map and leaves every other attribute alone."""
    transaction_id = new_transaction_id()
    document = payment()
    seeded = seed_transaction(stack, transaction_id, document)

    result = stack.invoke("ValidationFunction", workflow_input(transaction_id, document))

    assert result["outcome"] == "PASS"
    assert result["reasons"] == []
    item = transaction(stack, transaction_id)
    assert item["validation"] == result
    untouched = {k: v for k, v in item.items() if k not in ("validation", "updated_at")}
    assert untouched == {k: v for k, v in seeded.items() if k != "updated_at"}
    row = audit_row(stack, transaction_id, "validation#completed")
    assert (row["action"], row["actor"], row["outcome"]) == ("validation.passed", "validation", "PASS")


def test_business_rule_failure_is_a_fail_result_not_an_error(stack):
    transaction_id = new_transaction_id()
    document = payment(amount="10000", currency="KRW", payment_method={"brand": "amex"})
    seed_transaction(stack, transaction_id, document)

    result = stack.invoke("ValidationFunction", workflow_input(transaction_id, document))

    assert result["outcome"] == "FAIL"
    assert result["reasons"] == ["brand_currency_not_accepted"]
    assert transaction(stack, transaction_id)["validation"]["reasons"] == ["brand_currency_not_accepted"]
    assert audit_row(stack, transaction_id, "validation#completed")["action"] == "validation.failed"


def test_rerun_after_the_payment_is_final_returns_the_stored_result(stack):
    """Given a SETTLED transaction, a late re-run writes nothing and answers with what is stored."""
    transaction_id = new_transaction_id()
    document = payment()
    stored = {"outcome": "PASS", "reasons": [], "checked_at": "2026-01-01T00:00:00.000000Z"}
    seed_transaction(stack, transaction_id, document, status="SETTLED", validation=stored)
    before = transaction(stack, transaction_id)

    result = stack.invoke("ValidationFunction", workflow_input(transaction_id, document))

    assert result == stored
    assert transaction(stack, transaction_id) == before


def test_running_validation_twice_audits_once(stack):
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)

    stack.invoke("ValidationFunction", workflow_input(transaction_id, document))
    stack.invoke("ValidationFunction", workflow_input(transaction_id, document))

    assert [row["sk"] for row in audit_rows(stack, transaction_id)] == ["validation#completed"]


def test_float_amount_is_refused_before_anything_is_written(stack):
    """Given an amount sent as a JSON number with a fraction, the handler errors and writes nothing."""
    from payctl.runtime import LambdaFunctionError

    transaction_id = new_transaction_id()
    document = payment()
    seeded = seed_transaction(stack, transaction_id, document)

    with pytest.raises(LambdaFunctionError) as raised:
        stack.invoke("ValidationFunction", workflow_input(transaction_id, {**document, "amount": 12.34}))

    assert raised.value.error_type == "ValidationError"
    assert "12.34" not in raised.value.error_message
    assert transaction(stack, transaction_id) == seeded
    assert audit_rows(stack, transaction_id) == []
