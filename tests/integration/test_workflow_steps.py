"""The three workflow steps together on the deployed stack: ownership of writes, types, reserved words."""

import json
import re
from decimal import Decimal

from tests.factories import fresh_payment as payment
from tests.integration.workflow_support import (
    audit_row,
    dynamodb_calls,
    new_transaction_id,
    raw_transaction,
    seed_transaction,
    settlement_event,
    transaction,
    workflow_input,
)

RESERVED = ("status", "action")
EXPRESSION_KEYS = (
    "UpdateExpression",
    "ConditionExpression",
    "KeyConditionExpression",
    "FilterExpression",
    "ProjectionExpression",
)


def test_validation_and_fraud_in_either_order_keep_both_results(stack):
    """Given the two parallel checks finishing in either order, the item ends with both maps."""
    for order in (("ValidationFunction", "FraudFunction"), ("FraudFunction", "ValidationFunction")):
        transaction_id = new_transaction_id()
        document = payment()
        seed_transaction(stack, transaction_id, document)

        results = {name: stack.invoke(name, workflow_input(transaction_id, document)) for name in order}

        item = transaction(stack, transaction_id)
        assert item["validation"] == results["ValidationFunction"]
        assert item["fraud"] == results["FraudFunction"]
        assert item["status"] == "RECEIVED"


def test_a_check_that_runs_before_the_item_exists_creates_it_and_the_other_check_adds_to_it(stack):
    transaction_id = new_transaction_id()
    document = payment()

    fraud = stack.invoke("FraudFunction", workflow_input(transaction_id, document))
    validation = stack.invoke("ValidationFunction", workflow_input(transaction_id, document))

    item = transaction(stack, transaction_id)
    assert (item["fraud"], item["validation"]) == (fraud, validation)


def _floats(value):
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for inner in value.values():
            yield from _floats(inner)
    elif isinstance(value, list | tuple | set):
        for inner in value:
            yield from _floats(inner)


def _numbers(value):
    """Every DynamoDB ``{"N": ...}`` string inside low-level parameters."""
    if isinstance(value, dict):
        if set(value) == {"N"}:
            yield value["N"]
        for inner in value.values():
            yield from _numbers(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _numbers(inner)


def test_no_float_reaches_dynamodb(stack, monkeypatch):
    """Given a payment through validation, fraud and settlement, no DynamoDB call carries a float,
    every number written is an exact decimal, and the stored amounts are the exact strings."""
    transaction_id = new_transaction_id()
    document = payment(amount="19.99", currency="EUR")
    seed_transaction(stack, transaction_id, document)

    with dynamodb_calls(monkeypatch) as calls:
        stack.invoke("ValidationFunction", workflow_input(transaction_id, document))
        stack.invoke("FraudFunction", workflow_input(transaction_id, document))
        stack.invoke("SettlementFunction", settlement_event("settle", transaction_id, document))

    assert calls
    assert [op for op, params in calls if list(_floats(params))] == []
    written = [number for _, params in calls for number in _numbers(params)]
    assert written
    assert all(re.fullmatch(r"-?\d+(\.\d{1,3})?", number) for number in written), written
    stored = raw_transaction(stack, transaction_id)
    settlement = stored["settlement"]["M"]
    assert settlement["amount"] == {"N": "19.99"}
    assert Decimal(settlement["fee"]["N"]) + Decimal(settlement["net"]["N"]) == Decimal("19.99")
    assert stored["fraud"]["M"]["score"] == {"S": "0.00"}


def test_status_and_action_written_through_attribute_names(stack, monkeypatch):
    """Given every write of the three steps, ``status`` and ``action`` (DynamoDB reserved words) never
    appear bare in an expression, and the values they name are written."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)

    with dynamodb_calls(monkeypatch) as calls:
        stack.invoke("ValidationFunction", workflow_input(transaction_id, document))
        stack.invoke("FraudFunction", workflow_input(transaction_id, document))
        stack.invoke("SettlementFunction", settlement_event("settle", transaction_id, document))

    expressions = []
    for _, params in calls:
        items = [params, *(next(iter(entry.values())) for entry in params.get("TransactItems", []))]
        expressions += [item[key] for item in items for key in EXPRESSION_KEYS if key in item]
    assert expressions
    for expression in expressions:
        for word in RESERVED:
            assert not re.search(rf"(?<![#:\w]){word}\b", expression), expression
    assert transaction(stack, transaction_id)["status"] == "SETTLED"
    assert audit_row(stack, transaction_id, "settlement#settled")["action"] == "payment.settled"
    assert audit_row(stack, transaction_id, "validation#completed")["action"] == "validation.passed"


def run_workflow(stack, transaction_id, document):
    """The consumer's StartSyncExecution for a first delivery."""
    return stack.start_sync_execution(workflow_input(transaction_id, document), name=f"{transaction_id}-1")


def test_workflow_settles_a_payment_that_passes_both_checks(stack):
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)

    execution = run_workflow(stack, transaction_id, document)

    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert (output["status"], output["settlement"]["amount"]) == ("SETTLED", "12.34")
    item = transaction(stack, transaction_id)
    assert (item["status"], item["validation"]["outcome"], item["fraud"]["outcome"]) == (
        "SETTLED",
        "PASS",
        "APPROVE",
    )


def test_workflow_declines_a_payment_that_fails_validation_as_a_successful_execution(
    stack,
):
    transaction_id = new_transaction_id()
    document = payment(amount="0.10")
    seed_transaction(stack, transaction_id, document)

    execution = run_workflow(stack, transaction_id, document)

    assert execution["status"] == "SUCCEEDED", execution
    item = transaction(stack, transaction_id)
    assert (item["status"], item["decline_reasons"]) == ("DECLINED", ["amount_below_minimum"])
    assert "settlement" not in item


def test_workflow_records_failed_when_both_checks_error(stack):
    """Given an input neither check can read, both branches error, the payment is FAILED with both
    branches named and an audit row for this attempt, and the execution fails so the queue retries it."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)

    execution = run_workflow(stack, transaction_id, {**document, "amount": 12.34})

    assert (execution["status"], execution["error"]) == ("FAILED", "PaymentFailed")
    item = transaction(stack, transaction_id)
    assert item["status"] == "FAILED"
    assert item["failure"]["error"] == "ValidationError"
    assert item["failure"]["cause"].startswith("validation: ValidationError: ")
    assert "; fraud: ValidationError: " in item["failure"]["cause"]
    assert "12.34" not in item["failure"]["cause"]
    row = audit_row(stack, transaction_id, f"settlement#failed#{transaction_id}-1")
    assert (row["action"], row["outcome"]) == ("payment.failed", "FAILED")
