"""The workflow under injected faults: each step re-runs until its effects exist, and a finished
payment is never a failed execution. The ASL runs on moto's interpreter with the real handlers;
faults come from the runtime's plan (shim 4), aimed at one transaction each."""

from __future__ import annotations

import pytest

from payctl.runtime import faults
from payctl.runtime.faults import Kind, Rule
from tests.factories import fresh_payment as payment
from tests.integration.workflow_support import (
    archive_entries,
    audit_rows,
    new_transaction_id,
    run,
    seed_transaction,
    transaction,
)

# The Settle task's Retry makes three more attempts, so four faults in a row exhaust it.
EXHAUSTS_RETRIES = 4


def _rows(stack, transaction_id):
    return sorted(row["sk"] for row in audit_rows(stack, transaction_id))


@pytest.fixture
def received(stack):
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    yield transaction_id, document
    stack.faults.plan.clear()


def _settlement(stack, kind, transaction_id, count=1, **where):
    stack.faults.add(
        Rule(kind, function="SettlementFunction", transaction_id=transaction_id, count=count, **where)
    )


def test_a_single_throttle_after_the_settlement_transaction_is_retried_to_completion(stack, received):
    transaction_id, document = received
    _settlement(
        stack,
        Kind.DEPENDENCY_ERROR,
        transaction_id,
        error="ProvisionedThroughputExceededException",
        service="dynamodb",
        operation="PutItem",
    )

    execution = run(stack, transaction_id, document)

    assert execution["status"] == "SUCCEEDED", execution
    assert transaction(stack, transaction_id)["status"] == "SETTLED"
    assert len(archive_entries(stack, transaction_id)) == 1
    assert "settlement#settled" in _rows(stack, transaction_id)


@pytest.mark.parametrize("operation", ["TransactWriteItems", "PutItem"])
def test_a_crash_right_after_a_settlement_write_is_retried_to_completion(stack, received, operation):
    transaction_id, document = received
    _settlement(stack, Kind.CRASH_AFTER_CALL, transaction_id, service="dynamodb", operation=operation)

    execution = run(stack, transaction_id, document)

    assert execution["status"] == "SUCCEEDED", execution
    assert len(archive_entries(stack, transaction_id)) == 1
    assert "settlement#settled" in _rows(stack, transaction_id)
    assert [fired.error for fired in stack.faults.plan.fired if fired.transaction_id == transaction_id] == [
        faults.EXIT_ERROR
    ]


def test_a_crash_right_after_the_decline_is_retried_until_its_audit_row_exists(stack):
    transaction_id = new_transaction_id()
    document = payment(amount="0.10")  # under the minimum charge: validation declines it
    seed_transaction(stack, transaction_id, document)
    _settlement(stack, Kind.CRASH_AFTER_CALL, transaction_id, service="dynamodb", operation="UpdateItem")

    execution = run(stack, transaction_id, document)

    assert execution["status"] == "SUCCEEDED", execution
    assert transaction(stack, transaction_id)["status"] == "DECLINED"
    assert "settlement#declined" in _rows(stack, transaction_id)


def test_the_failure_path_on_a_finished_payment_ends_the_execution_successfully(stack, received):
    """Given Settle finishing every effect but its response lost until its Retry gives up, When the
    Catch runs RecordFailure on the SETTLED payment, Then nothing is written and the execution succeeds."""
    transaction_id, document = received
    _settlement(stack, Kind.LOST_RESPONSE, transaction_id, count=EXHAUSTS_RETRIES)

    execution = run(stack, transaction_id, document)

    assert execution["status"] == "SUCCEEDED", execution
    assert transaction(stack, transaction_id)["status"] == "SETTLED"
    assert not any(sk.startswith("settlement#failed") for sk in _rows(stack, transaction_id))


def test_a_settlement_left_half_done_fails_the_execution_and_the_next_run_completes_it(stack, received):
    """Given the audit table refusing the settled row until Settle's Retry gives up, the payment is
    SETTLED without its row: the execution fails (so SQS delivers the message again) and the next
    run of the workflow writes it, with one settlement and one archive entry."""
    transaction_id, document = received
    _settlement(
        stack,
        Kind.DEPENDENCY_ERROR,
        transaction_id,
        count=EXHAUSTS_RETRIES,
        error="ThrottlingException",
        service="dynamodb",
        operation="PutItem",
    )

    first = run(stack, transaction_id, document, attempt=1)

    assert (first["status"], first.get("error")) == ("FAILED", "PaymentIncomplete")
    assert transaction(stack, transaction_id)["status"] == "SETTLED"
    assert "settlement#settled" not in _rows(stack, transaction_id)

    second = run(stack, transaction_id, document, attempt=2)

    assert second["status"] == "SUCCEEDED", second
    assert len(archive_entries(stack, transaction_id)) == 1
    assert _rows(stack, transaction_id) == ["fraud#completed", "settlement#settled", "validation#completed"]


@pytest.mark.parametrize(
    ("kind", "where"),
    [
        (Kind.DEPENDENCY_ERROR, {"service": "s3", "operation": "PutObject", "error": "SlowDown"}),
        (Kind.CRASH_AFTER_CALL, {"service": "s3", "operation": "PutObject"}),
        (Kind.CRASH_AFTER_CALL, {"service": "dynamodb", "operation": "UpdateItem"}),
        (Kind.DEPENDENCY_ERROR, {"service": "dynamodb", "operation": "GetItem"}),
        (Kind.LAMBDA_SERVICE_ERROR, {"error": "Lambda.ServiceException"}),
    ],
    ids=["s3-slowdown", "crash-after-put", "crash-after-mark", "mark-read-throttled", "lambda-error"],
)
def test_the_archive_batch_survives_a_fault_and_archives_each_settlement_once(stack, received, kind, where):
    """Given a fault in the archive function's batch, the stream delivers the batch again and the
    re-run finishes it: each settled payment of the batch has exactly one entry."""
    transaction_id, document = received
    other = new_transaction_id()
    seed_transaction(stack, other, document)
    assert run(stack, transaction_id, document)["status"] == "SUCCEEDED"
    assert run(stack, other, document)["status"] == "SUCCEEDED"
    rule = stack.faults.add(Rule(kind, function="ArchiveFunction", count=1, **where))

    entries = {tid: archive_entries(stack, tid) for tid in (transaction_id, other)}

    assert rule.fired == 1
    assert [len(found) for found in entries.values()] == [1, 1]
