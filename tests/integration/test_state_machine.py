"""The template's ASL, executed by moto's interpreter with the real handlers: retries, failures, replays.

Each test seeds the RECEIVED transaction the consumer would have written and starts the Express
execution the way the consumer does (StartSyncExecution named ``<transaction_id>-<receive count>``).
The settle, decline or fail write is the workflow's last effect: the settlement record, the
archive entry and the audit rows follow from it through the transactions stream, so every read
of them drains the stream first.
"""

from __future__ import annotations

import json

from payments_core.audit_trail import settlement_view
from tests.factories import fresh_payment as payment
from tests.integration.workflow_support import (
    DECLINED_ROWS,
    SETTLED_ROWS,
    archive_entries,
    audit_row,
    audit_rows,
    new_transaction_id,
    run,
    seed_transaction,
    settlement_records,
    transaction,
)


def _rows(stack, transaction_id):
    return sorted(row["sk"] for row in audit_rows(stack, transaction_id))


def test_approved_payment_settles_with_record_archive_and_full_audit_trail(stack):
    transaction_id = new_transaction_id()
    document = payment()
    received = seed_transaction(stack, transaction_id, document)

    execution = run(stack, transaction_id, document)

    assert execution["status"] == "SUCCEEDED", execution
    item = transaction(stack, transaction_id)
    assert item["status"] == "SETTLED"
    assert json.loads(execution["output"])["settlement"] == settlement_view(item["settlement"])
    [record] = settlement_records(stack, transaction_id)
    assert {name: record[name] for name in ("amount", "currency", "fee", "net", "settled_at")} == item[
        "settlement"
    ]
    assert record["received_at"] == received["created_at"]
    assert len(archive_entries(stack, transaction_id)) == 1
    assert _rows(stack, transaction_id) == SETTLED_ROWS
    assert audit_row(stack, transaction_id, "settlement#settled")["detail"] == settlement_view(
        item["settlement"]
    )


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
    assert "settlement" not in item
    assert _rows(stack, transaction_id) == DECLINED_ROWS
    assert audit_row(stack, transaction_id, "fraud#completed")["action"] == "fraud.declined"
    assert settlement_records(stack, transaction_id) == []
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
    assert json.loads(execution["output"])["replayed"] is False
    assert transaction(stack, transaction_id)["status"] == "SETTLED"
    assert len(settlement_records(stack, transaction_id)) == 1
    assert len(archive_entries(stack, transaction_id)) == 1
    assert _rows(stack, transaction_id) == SETTLED_ROWS


def test_permanent_error_records_failed_with_an_audit_row_and_fails_the_execution(stack):
    """Given an error the Retry list does not cover, the Settle task's Catch records FAILED (with
    this attempt's execution), the trail writes that attempt's row, and the execution fails so
    SQS delivers the message again."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    stack.lambda_faults.inject("SettlementFunction", "Lambda.ResourceNotReadyException", times=1)

    execution = run(stack, transaction_id, document)

    assert (execution["status"], execution["error"]) == ("FAILED", "PaymentFailed")
    item = transaction(stack, transaction_id)
    assert item["status"] == "FAILED"
    assert item["failure"]["execution"] == f"{transaction_id}-1"
    assert item["failure"]["error"] == "Lambda.ResourceNotReadyException"
    failed_sk = f"settlement#failed#{transaction_id}-1"
    assert _rows(stack, transaction_id) == ["ingest#received", failed_sk]
    row = audit_row(stack, transaction_id, failed_sk)
    assert (row["action"], row["outcome"], row["at"]) == ("payment.failed", "FAILED", item["updated_at"])
    assert settlement_records(stack, transaction_id) == []
    assert archive_entries(stack, transaction_id) == []


def test_a_failed_payment_settles_on_the_next_delivery(stack):
    """FAILED is not final: the redelivered message (or a DLQ replay) runs the workflow again. The
    trail keeps the first attempt's failure row next to the settlement's rows."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    stack.lambda_faults.inject("SettlementFunction", "Lambda.ResourceNotReadyException", times=1)
    assert run(stack, transaction_id, document, attempt=1)["status"] == "FAILED"

    execution = run(stack, transaction_id, document, attempt=2)

    assert execution["status"] == "SUCCEEDED", execution
    assert transaction(stack, transaction_id)["status"] == "SETTLED"
    assert len(settlement_records(stack, transaction_id)) == 1
    assert len(archive_entries(stack, transaction_id)) == 1
    assert _rows(stack, transaction_id) == sorted([*SETTLED_ROWS, f"settlement#failed#{transaction_id}-1"])


def test_same_payment_run_twice_settles_once_archives_once_and_audits_once(stack):
    """Express runs a step more than once; a redelivery runs the whole workflow again. Every write is
    conditional, so the second run changes nothing: one settlement, one archive version, one row each."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    first = run(stack, transaction_id, document, attempt=1)
    rows_before = audit_rows(stack, transaction_id)
    settled_before = transaction(stack, transaction_id)

    second = run(stack, transaction_id, document, attempt=2)

    assert (first["status"], second["status"]) == ("SUCCEEDED", "SUCCEEDED")
    replay = json.loads(second["output"])
    assert (replay["status"], replay["replayed"]) == ("SETTLED", True)
    assert replay["settlement"] == json.loads(first["output"])["settlement"]
    assert transaction(stack, transaction_id) == settled_before
    assert len(settlement_records(stack, transaction_id)) == 1
    assert len(archive_entries(stack, transaction_id)) == 1
    assert sorted(audit_rows(stack, transaction_id), key=lambda row: row["sk"]) == sorted(
        rows_before, key=lambda row: row["sk"]
    )
