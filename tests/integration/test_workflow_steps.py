"""The three workflow steps together on the deployed stack: one write per state change, types,
reserved words, and what the stream derives from the final write."""

import json
import re
from decimal import Decimal

import pytest

from payctl.runtime import LambdaFunctionError
from tests.factories import fresh_payment as payment
from tests.integration.workflow_support import (
    audit_row,
    audit_rows,
    drain_audit_stream,
    dynamodb_calls,
    new_transaction_id,
    raw_transaction,
    seed_transaction,
    settlement_event,
    table,
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


def sks(stack, transaction_id):
    return sorted(row["sk"] for row in audit_rows(stack, transaction_id))


def settlement_record(stack, transaction_id):
    drain_audit_stream(stack)
    return (
        table(stack, "SettlementsTableName")
        .get_item(Key={"transaction_id": transaction_id}, ConsistentRead=True)
        .get("Item")
    )


def test_validation_and_fraud_in_either_order_write_nothing_and_settle_keeps_both_results(stack):
    """Given the two parallel checks finishing in either order, neither touches the item; the settle
    write that follows stores both results, exactly as the checks returned them."""
    for order in (("ValidationFunction", "FraudFunction"), ("FraudFunction", "ValidationFunction")):
        transaction_id = new_transaction_id()
        document = payment()
        seeded = seed_transaction(stack, transaction_id, document)

        results = {name: stack.invoke(name, workflow_input(transaction_id, document)) for name in order}

        assert transaction(stack, transaction_id) == seeded
        checks = {"validation": results["ValidationFunction"], "fraud": results["FraudFunction"]}
        stack.invoke(
            "SettlementFunction", settlement_event("settle", transaction_id, document, checks=checks)
        )
        item = transaction(stack, transaction_id)
        assert item["validation"] == results["ValidationFunction"]
        assert item["fraud"] == results["FraudFunction"]
        assert item["status"] == "SETTLED"


def test_checks_that_run_before_the_item_exists_create_nothing_and_settle_waits_for_ingest(stack):
    """Given both checks running before ingest's item is visible, no item is created (so nothing
    half-written can be mistaken for a received payment) and settle refuses to invent one; once
    ingest's put lands, settle records both results."""
    transaction_id = new_transaction_id()
    document = payment()

    fraud = stack.invoke("FraudFunction", workflow_input(transaction_id, document))
    validation = stack.invoke("ValidationFunction", workflow_input(transaction_id, document))
    event = settlement_event(
        "settle", transaction_id, document, checks={"validation": validation, "fraud": fraud}
    )

    assert transaction(stack, transaction_id) is None
    with pytest.raises(LambdaFunctionError) as raised:
        stack.invoke("SettlementFunction", event)
    assert raised.value.error_type == "TransactionNotFound"
    assert transaction(stack, transaction_id) is None
    assert audit_rows(stack, transaction_id) == []

    seed_transaction(stack, transaction_id, document)
    stack.invoke("SettlementFunction", event)

    item = transaction(stack, transaction_id)
    assert (item["status"], item["fraud"], item["validation"]) == ("SETTLED", fraud, validation)


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
    """Given a payment through validation, fraud and settlement, and the stream functions that follow
    its settlement, no DynamoDB call carries a float, every number written is an exact decimal, and
    the stored amounts are the exact strings. The steps themselves make two calls: fraud's velocity
    query and settle's one write."""
    transaction_id = new_transaction_id()
    document = payment(amount="19.99", currency="EUR")
    seed_transaction(stack, transaction_id, document)
    drain_audit_stream(stack)

    with dynamodb_calls(monkeypatch) as calls:
        stack.invoke("ValidationFunction", workflow_input(transaction_id, document))
        stack.invoke("FraudFunction", workflow_input(transaction_id, document))
        stack.invoke("SettlementFunction", settlement_event("settle", transaction_id, document))
        steps = list(calls)
        drain_audit_stream(stack)

    assert [op for op, _ in steps] == ["Query", "UpdateItem"]
    derived = {op for op, _ in calls[len(steps) :]}
    assert {"BatchWriteItem", "TransactWriteItems"} <= derived
    assert [op for op, params in calls if list(_floats(params))] == []
    written = [number for _, params in calls for number in _numbers(params)]
    assert written
    assert all(re.fullmatch(r"-?\d+(\.\d{1,3})?", number) for number in written), written
    stored = raw_transaction(stack, transaction_id)
    settlement = stored["settlement"]["M"]
    assert settlement["amount"] == {"N": "19.99"}
    assert Decimal(settlement["fee"]["N"]) + Decimal(settlement["net"]["N"]) == Decimal("19.99")
    assert stored["fraud"]["M"]["score"] == {"S": "0.00"}
    record = settlement_record(stack, transaction_id)
    assert (record["amount"], record["fee"] + record["net"]) == (Decimal("19.99"), Decimal("19.99"))


def test_status_and_action_written_through_attribute_names(stack, monkeypatch):
    """Given every DynamoDB call of the three steps and of the stream functions that follow them,
    ``status`` and ``action`` (DynamoDB reserved words) never appear bare in an expression, and the
    values they name are written."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)

    with dynamodb_calls(monkeypatch) as calls:
        stack.invoke("ValidationFunction", workflow_input(transaction_id, document))
        stack.invoke("FraudFunction", workflow_input(transaction_id, document))
        stack.invoke("SettlementFunction", settlement_event("settle", transaction_id, document))
        drain_audit_stream(stack)

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
    assert sks(stack, transaction_id) == [
        "fraud#completed",
        "ingest#received",
        "settlement#settled",
        "validation#completed",
    ]
    assert settlement_record(stack, transaction_id)["settled_at"] == output["settlement"]["settled_at"]


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
    assert sks(stack, transaction_id) == [
        "fraud#completed",
        "ingest#received",
        "settlement#declined",
        "validation#completed",
    ]
    assert audit_row(stack, transaction_id, "validation#completed")["action"] == "validation.failed"
    assert settlement_record(stack, transaction_id) is None


def test_workflow_records_failed_when_both_checks_error(stack):
    """Given an input neither check can read, both branches error, the payment is FAILED with both
    branches named and an audit row for this attempt (and none for the checks, which produced no
    result), and the execution fails so the queue retries it."""
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
    assert ("validation" in item, "fraud" in item) == (False, False)
    row = audit_row(stack, transaction_id, f"settlement#failed#{transaction_id}-1")
    assert (row["action"], row["outcome"]) == ("payment.failed", "FAILED")
    assert sks(stack, transaction_id) == ["ingest#received", f"settlement#failed#{transaction_id}-1"]
