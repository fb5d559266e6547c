"""The template's ASL, executed by moto's interpreter with the real handlers: retries, failures, replays.

Each test seeds the RECEIVED transaction the consumer would have written and starts the Express
execution the way the consumer does (StartSyncExecution named ``<transaction_id>-<receive count>``).
"""

from __future__ import annotations

import json

import boto3

from tests.factories import fresh_payment as payment
from tests.integration.workflow_support import (
    archive_entries,
    audit_rows,
    new_transaction_id,
    run,
    seed_transaction,
    transaction,
)


def _settlement_records(stack, transaction_id):
    table = boto3.resource("dynamodb", region_name=stack.region).Table(stack.outputs["SettlementsTableName"])
    return table.query(
        KeyConditionExpression="transaction_id = :t", ExpressionAttributeValues={":t": transaction_id}
    )["Items"]


def test_approved_payment_settles_with_record_archive_and_full_audit_trail(stack):
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)

    execution = run(stack, transaction_id, document)

    assert execution["status"] == "SUCCEEDED", execution
    assert transaction(stack, transaction_id)["status"] == "SETTLED"
    assert len(_settlement_records(stack, transaction_id)) == 1
    assert len(archive_entries(stack, transaction_id)) == 1
    assert {row["sk"] for row in audit_rows(stack, transaction_id)} == {
        "validation#completed",
        "fraud#completed",
        "settlement#settled",
    }


def test_fraud_decline_is_a_successful_execution_ending_declined(stack):
    transaction_id = new_transaction_id()
    document = payment(amount="8000.00")
    document["payment_method"] = {**document["payment_method"], "country": "GB"}
    document["customer"] = {**document["customer"], "country": "US"}
    seed_transaction(stack, transaction_id, document)

    execution = run(stack, transaction_id, document)

    assert execution["status"] == "SUCCEEDED", execution
    item = transaction(stack, transaction_id)
    assert item["status"] == "DECLINED"
    assert item["fraud"]["outcome"] == "DECLINE"
    assert "fraud_risk_too_high" in item["decline_reasons"]
    assert archive_entries(stack, transaction_id) == []


def test_transient_lambda_error_is_retried_by_the_state_machine_then_settles(stack):
    """Given the Lambda service failing the settlement invoke once (Lambda.ServiceException), the
    Retry on the Settle task invokes it again and the payment settles in the same execution."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    stack.lambda_faults.inject("SettlementFunction", "Lambda.ServiceException", times=1)

    execution = run(stack, transaction_id, document)

    assert execution["status"] == "SUCCEEDED", execution
    assert stack.lambda_faults.remaining("SettlementFunction") == 0
    assert transaction(stack, transaction_id)["status"] == "SETTLED"
    assert len(archive_entries(stack, transaction_id)) == 1


def test_permanent_error_records_failed_with_an_audit_row_and_fails_the_execution(stack):
    """Given an error the Retry list does not cover, the Settle task's Catch records FAILED with an
    audit row for this attempt, and the execution fails so SQS delivers the message again."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    stack.lambda_faults.inject("SettlementFunction", "Lambda.ResourceNotReadyException", times=1)

    execution = run(stack, transaction_id, document)

    assert (execution["status"], execution["error"]) == ("FAILED", "PaymentFailed")
    item = transaction(stack, transaction_id)
    assert item["status"] == "FAILED"
    failed = [row for row in audit_rows(stack, transaction_id) if row["sk"].startswith("settlement#failed")]
    assert [(row["action"], row["outcome"]) for row in failed] == [("payment.failed", "FAILED")]
    assert archive_entries(stack, transaction_id) == []


def test_a_failed_payment_settles_on_the_next_delivery(stack):
    """FAILED is not final: the redelivered message (or a DLQ replay) runs the workflow again."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    stack.lambda_faults.inject("SettlementFunction", "Lambda.ResourceNotReadyException", times=1)
    assert run(stack, transaction_id, document, attempt=1)["status"] == "FAILED"

    execution = run(stack, transaction_id, document, attempt=2)

    assert execution["status"] == "SUCCEEDED", execution
    assert transaction(stack, transaction_id)["status"] == "SETTLED"


def test_same_payment_run_twice_settles_once_archives_once_and_audits_once(stack):
    """Express runs a step more than once; a redelivery runs the whole workflow again. Every write is
    conditional, so the second run changes nothing: one settlement, one archive version, one row each."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    first = run(stack, transaction_id, document, attempt=1)
    rows_before = sorted(row["sk"] for row in audit_rows(stack, transaction_id))

    second = run(stack, transaction_id, document, attempt=2)

    assert (first["status"], second["status"]) == ("SUCCEEDED", "SUCCEEDED")
    assert json.loads(second["output"])["status"] == "SETTLED"
    assert len(_settlement_records(stack, transaction_id)) == 1
    assert len(archive_entries(stack, transaction_id)) == 1
    assert sorted(row["sk"] for row in audit_rows(stack, transaction_id)) == rows_before
