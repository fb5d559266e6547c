"""The workflow under injected faults: each step re-runs until its write lands, a write that landed
is never made twice, and a finished payment is never a failed execution. The ASL runs on moto's
interpreter with the real handlers; faults come from the runtime's plan (shim 4), aimed at one
transaction each.

The final status is the workflow's last write; the settlement record, the archive entry and the
audit rows follow from it through the transactions stream, whose batches are retried until they
land. So every check of them drains the stream, and each is found exactly once."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from payctl.runtime import faults, set_retry_wait_scale
from payctl.runtime.faults import Kind, Rule
from payments_core.audit_trail import settlement_view
from tests.factories import fresh_payment as payment
from tests.integration.workflow_support import (
    DECLINED_ROWS,
    SETTLED_ROWS,
    archive_entries,
    audit_row,
    audit_rows,
    counter,
    drain_audit_stream,
    new_transaction_id,
    run,
    seed_transaction,
    settlement_event,
    settlement_records,
    transaction,
)

# The Settle task's Retry makes three more attempts, so four faults in a row exhaust it.
EXHAUSTS_RETRIES = 4


@pytest.fixture(autouse=True)
def fault_plan(stack):
    """The test's rules, dropped after it. The Retry waits are scaled down (their number and
    order stay the template's), so exhausting a Retry costs no real seconds."""
    set_retry_wait_scale(0.01)
    yield stack.faults
    stack.faults.plan.clear()
    set_retry_wait_scale(1)


@pytest.fixture
def received(stack):
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    return transaction_id, document


def _rows(stack, transaction_id):
    return sorted(row["sk"] for row in audit_rows(stack, transaction_id))


def _settlement(stack, kind, transaction_id, count=1, **where):
    return stack.faults.add(
        Rule(kind, function="SettlementFunction", transaction_id=transaction_id, count=count, **where)
    )


def _fired(stack, transaction_id):
    return Counter(fired.error for fired in stack.faults.plan.fired if fired.transaction_id == transaction_id)


def _settled_once(stack, transaction_id):
    """The stream's followers made the settlement's every effect, each exactly once."""
    item = transaction(stack, transaction_id)
    assert item["status"] == "SETTLED"
    assert "failure" not in item
    [record] = settlement_records(stack, transaction_id)
    assert {name: record[name] for name in item["settlement"]} == item["settlement"]
    assert len(archive_entries(stack, transaction_id)) == 1
    assert _rows(stack, transaction_id) == SETTLED_ROWS
    return item


def test_a_throttled_settle_write_is_retried_to_one_settlement(stack, received):
    """Given DynamoDB throttling the settle UpdateItem once, nothing was written, so the Retry's
    run is the one that settles (not a replay)."""
    transaction_id, document = received
    rule = _settlement(
        stack,
        Kind.DEPENDENCY_ERROR,
        transaction_id,
        error="ProvisionedThroughputExceededException",
        service="dynamodb",
        operation="UpdateItem",
    )

    execution = run(stack, transaction_id, document)

    assert execution["status"] == "SUCCEEDED", execution
    assert rule.fired == 1
    assert json.loads(execution["output"])["replayed"] is False
    _settled_once(stack, transaction_id)


def test_a_crash_right_after_the_settle_write_is_a_settlement_the_retry_returns(stack, received):
    """Given the function dying right after its UpdateItem landed, the payment is settled: the
    Retry's run finds it SETTLED, writes nothing and returns the settlement the crashed run wrote."""
    transaction_id, document = received
    _settlement(stack, Kind.CRASH_AFTER_CALL, transaction_id, service="dynamodb", operation="UpdateItem")

    execution = run(stack, transaction_id, document)

    assert execution["status"] == "SUCCEEDED", execution
    assert _fired(stack, transaction_id) == {faults.EXIT_ERROR: 1}
    output = json.loads(execution["output"])
    item = _settled_once(stack, transaction_id)
    assert (output["replayed"], output["settlement"]) == (True, settlement_view(item["settlement"]))


def test_a_crash_right_after_the_decline_write_is_a_decline_the_retry_returns(stack):
    transaction_id = new_transaction_id()
    document = payment(amount="0.10")  # under the minimum charge: validation declines it
    seed_transaction(stack, transaction_id, document)
    _settlement(stack, Kind.CRASH_AFTER_CALL, transaction_id, service="dynamodb", operation="UpdateItem")

    execution = run(stack, transaction_id, document)

    assert execution["status"] == "SUCCEEDED", execution
    assert _fired(stack, transaction_id) == {faults.EXIT_ERROR: 1}
    output = json.loads(execution["output"])
    item = transaction(stack, transaction_id)
    assert item["status"] == "DECLINED"
    assert (output["replayed"], output["decline_reasons"]) == (True, item["decline_reasons"])
    assert _rows(stack, transaction_id) == DECLINED_ROWS
    assert audit_row(stack, transaction_id, "validation#completed")["action"] == "validation.failed"
    assert settlement_records(stack, transaction_id) == []
    assert archive_entries(stack, transaction_id) == []


def test_a_crash_right_after_the_failure_write_leaves_one_failure_for_the_attempt(stack, received):
    """Given Settle failing past its Retry and RecordFailure dying right after its write, the
    Retry's RecordFailure of the same execution is refused: one failure and one row per attempt."""
    transaction_id, document = received
    stack.faults.inject("SettlementFunction", "Lambda.ResourceNotReadyException", times=1)
    _settlement(stack, Kind.CRASH_AFTER_CALL, transaction_id, service="dynamodb", operation="UpdateItem")

    execution = run(stack, transaction_id, document)

    assert (execution["status"], execution["error"]) == ("FAILED", "PaymentFailed")
    assert _fired(stack, transaction_id) == {"Lambda.ResourceNotReadyException": 1, faults.EXIT_ERROR: 1}
    failed = transaction(stack, transaction_id)
    assert failed["status"] == "FAILED"
    assert failed["failure"]["execution"] == f"{transaction_id}-1"
    failed_sk = f"settlement#failed#{transaction_id}-1"
    assert _rows(stack, transaction_id) == ["ingest#received", failed_sk]
    assert audit_row(stack, transaction_id, failed_sk)["at"] == failed["updated_at"]
    rows = sorted(audit_rows(stack, transaction_id), key=lambda row: row["sk"])

    # Express may run the step once more still: the same attempt's failure is not written again.
    again = stack.invoke(
        "SettlementFunction",
        settlement_event(
            "fail",
            transaction_id,
            document,
            error={"Error": "Lambda.ResourceNotReadyException", "Cause": "not ready"},
            execution_name=f"{transaction_id}-1",
        ),
    )

    assert (again["status"], again["replayed"]) == ("FAILED", True)
    assert again["failure"] == failed["failure"]
    assert transaction(stack, transaction_id) == failed
    assert sorted(audit_rows(stack, transaction_id), key=lambda row: row["sk"]) == rows


def test_the_failure_path_on_a_finished_payment_ends_the_execution_successfully(stack, received):
    """Given Settle's write landing but every response of it lost until its Retry gives up, When the
    Catch runs RecordFailure on the SETTLED payment, Then nothing is written and the execution succeeds."""
    transaction_id, document = received
    rule = _settlement(stack, Kind.LOST_RESPONSE, transaction_id, count=EXHAUSTS_RETRIES)

    execution = run(stack, transaction_id, document)

    assert execution["status"] == "SUCCEEDED", execution
    assert rule.fired == EXHAUSTS_RETRIES
    assert json.loads(execution["output"])["complete"] is True
    _settled_once(stack, transaction_id)


def test_an_execution_that_fails_after_the_settle_write_is_completed_by_the_redelivery(stack, received):
    """Given the settle write landing right before a crash, and every later Settle and RecordFailure
    attempt timing out, the execution fails although the payment is SETTLED (and no failure is
    recorded over it). The redelivery's run returns the settlement already written; the stream has
    made its record, its archive entry and its rows once."""
    transaction_id, document = received
    _settlement(stack, Kind.CRASH_AFTER_CALL, transaction_id, service="dynamodb", operation="UpdateItem")
    timeouts = _settlement(stack, Kind.TIMEOUT, transaction_id, count=2 * EXHAUSTS_RETRIES)

    first = run(stack, transaction_id, document, attempt=1)

    assert (first["status"], first["error"]) == ("FAILED", faults.TIMEOUT_ERROR)
    assert timeouts.fired == 2 * EXHAUSTS_RETRIES
    settled = _settled_once(stack, transaction_id)

    second = run(stack, transaction_id, document, attempt=2)

    assert second["status"] == "SUCCEEDED", second
    output = json.loads(second["output"])
    assert (output["replayed"], output["settlement"]) == (True, settlement_view(settled["settlement"]))
    assert _settled_once(stack, transaction_id) == settled


@pytest.mark.parametrize(
    ("kind", "where"),
    [
        (Kind.DEPENDENCY_ERROR, {"error": "ThrottlingException"}),
        (Kind.CRASH_AFTER_CALL, {}),
    ],
    ids=["throttled", "crash-after-write"],
)
def test_a_failed_audit_trail_batch_is_retried_and_its_rows_land_once(stack, kind, where):
    """Given the audit trail's BatchWriteItem throttled, or the function dying right after it
    landed, the stream delivers the batch again: every row of the payment exists once, as derived
    from its state change, and the daily counter counts it once."""
    drain_audit_stream(stack)  # the payment's records are the next batch, and its rows the first call
    transaction_id = new_transaction_id()
    document = payment()
    received_at = "2025-01-02T03:04:05.678901Z"  # a day of its own: the counter read is this payment's
    received_before = counter(stack, {"at": received_at, "action": "payment.received"})
    seed_transaction(stack, transaction_id, document, created_at=received_at)
    assert run(stack, transaction_id, document)["status"] == "SUCCEEDED"
    rule = stack.faults.add(
        Rule(
            kind,
            function="AuditTrailFunction",
            service="dynamodb",
            operation="BatchWriteItem",
            transaction_id=transaction_id,
            count=1,
            **where,
        )
    )

    rows = {row["sk"]: row for row in audit_rows(stack, transaction_id)}

    assert rule.fired == 1
    assert sorted(rows) == SETTLED_ROWS
    item = transaction(stack, transaction_id)
    assert rows["ingest#received"]["at"] == received_at
    assert rows["settlement#settled"]["at"] == item["updated_at"]
    assert rows["settlement#settled"]["detail"] == settlement_view(item["settlement"])
    assert counter(stack, rows["ingest#received"]) == received_before + 1


@pytest.mark.parametrize(
    ("kind", "where"),
    [
        (Kind.DEPENDENCY_ERROR, {"service": "s3", "operation": "PutObject", "error": "SlowDown"}),
        (Kind.CRASH_AFTER_CALL, {"service": "s3", "operation": "PutObject"}),
        (Kind.CRASH_AFTER_CALL, {"service": "dynamodb", "operation": "UpdateItem"}),
        (Kind.DEPENDENCY_ERROR, {"service": "dynamodb", "operation": "GetItem"}),
        (Kind.DEPENDENCY_ERROR, {"service": "dynamodb", "operation": "BatchWriteItem"}),
        (Kind.CRASH_AFTER_CALL, {"service": "dynamodb", "operation": "BatchWriteItem"}),
        (Kind.LAMBDA_SERVICE_ERROR, {"error": "Lambda.ServiceException"}),
    ],
    ids=[
        "s3-slowdown",
        "crash-after-put",
        "crash-after-mark",
        "mark-read-throttled",
        "records-throttled",
        "crash-after-records",
        "lambda-error",
    ],
)
def test_the_archive_batch_survives_a_fault_and_records_and_archives_each_settlement_once(
    stack, received, kind, where
):
    """Given a fault in the archive function's batch, the stream delivers the batch again and the
    re-run finishes it: each settled payment of the batch has exactly one settlement record and
    exactly one archive entry."""
    transaction_id, document = received
    other = new_transaction_id()
    seed_transaction(stack, other, document)
    assert run(stack, transaction_id, document)["status"] == "SUCCEEDED"
    assert run(stack, other, document)["status"] == "SUCCEEDED"
    rule = stack.faults.add(Rule(kind, function="ArchiveFunction", count=1, **where))

    entries = {tid: archive_entries(stack, tid) for tid in (transaction_id, other)}

    assert rule.fired == 1
    assert [len(found) for found in entries.values()] == [1, 1]
    assert [len(settlement_records(stack, tid)) for tid in entries] == [1, 1]
