"""The settlement Lambda on the deployed stack: each action is one conditional write of the final
status, safe to run again; the settlement record, the archive entry and the audit rows follow
from that write through the transactions table's stream."""

import json
from decimal import Decimal

import boto3
import pytest

from payctl.runtime import LambdaFunctionError, faults
from payctl.runtime.faults import Kind, Rule
from tests.factories import fresh_payment as payment
from tests.integration.workflow_support import (
    archive_entries,
    audit_row,
    audit_rows,
    counter,
    drain_audit_stream,
    dynamodb_calls,
    new_transaction_id,
    seed_transaction,
    settlement_event,
    table,
    transaction,
)

CREATED_AT = "2026-03-01T23:59:59.123456Z"
VALIDATED_AT = "2026-03-02T00:00:00.250000Z"
SCORED_AT = "2026-03-02T00:00:00.500000Z"
CHECKS = {
    "validation": {"outcome": "PASS", "reasons": [], "checked_at": VALIDATED_AT},
    "fraud": {
        "outcome": "APPROVE",
        "score": "0.10",
        "reasons": ["customer_unknown"],
        "checked_at": SCORED_AT,
    },
}
SETTLED_ROWS = ["fraud#completed", "ingest#received", "settlement#settled", "validation#completed"]
FAILURE = {"Error": "DependencyError", "Cause": "archive write failed"}


def s3(stack):
    return boto3.client("s3", region_name=stack.region)


def stored_settlement_record(stack, transaction_id):
    """The settlements table's record as it stands, without letting the stream run first."""
    return (
        table(stack, "SettlementsTableName")
        .get_item(Key={"transaction_id": transaction_id}, ConsistentRead=True)
        .get("Item")
    )


def settlement_record(stack, transaction_id):
    """The record once the archive function has followed every state change written so far."""
    drain_audit_stream(stack)
    return stored_settlement_record(stack, transaction_id)


def sks(stack, transaction_id):
    return sorted(row["sk"] for row in audit_rows(stack, transaction_id))


@pytest.fixture
def fault_plan(stack):
    """Faults aimed at one test's payment; whatever did not fire is cleared after it."""
    yield stack.faults
    stack.faults.plan.clear()


def test_settle_exactly_once(stack):
    """Given settle runs twice, the second run's write is refused and answers with the first's
    settlement: one settlement record, one archive entry, one set of audit rows, counted once."""
    transaction_id = new_transaction_id()
    document = payment(amount="100.00")
    seed_transaction(stack, transaction_id, document, created_at=CREATED_AT)

    first = stack.invoke(
        "SettlementFunction", settlement_event("settle", transaction_id, document, checks=CHECKS)
    )
    settled = transaction(stack, transaction_id)
    record = settlement_record(stack, transaction_id)
    row = audit_row(stack, transaction_id, "settlement#settled")
    counted = counter(stack, row)
    second = stack.invoke(
        "SettlementFunction", settlement_event("settle", transaction_id, document, checks=CHECKS)
    )

    assert first["status"] == second["status"] == "SETTLED"
    assert (
        first["settlement"]
        == second["settlement"]
        == {
            "amount": "100.00",
            "currency": "USD",
            "fee": "3.20",
            "net": "96.80",
            "settled_at": record["settled_at"],
        }
    )
    assert (first["replayed"], second["replayed"]) == (False, True)
    assert transaction(stack, transaction_id) == settled
    assert settlement_record(stack, transaction_id) == record
    assert len(archive_entries(stack, transaction_id)) == 1
    assert sks(stack, transaction_id) == SETTLED_ROWS
    assert counter(stack, row) == counted
    assert settled["status"] == "SETTLED"
    assert (settled["settlement"]["net"], settled["updated_at"]) == (record["net"], record["settled_at"])


def test_the_settle_write_carries_the_checks_and_their_rows_follow_at_their_own_times(stack):
    """Given the checks' results in the Payload, the settle write stores them with the status, and
    the stream turns them into the checks' audit rows, stamped when each check ran."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document, created_at=CREATED_AT)

    stack.invoke("SettlementFunction", settlement_event("settle", transaction_id, document, checks=CHECKS))

    item = transaction(stack, transaction_id)
    assert (item["validation"], item["fraud"]) == (CHECKS["validation"], CHECKS["fraud"])
    validation = audit_row(stack, transaction_id, "validation#completed")
    fraud = audit_row(stack, transaction_id, "fraud#completed")
    received = audit_row(stack, transaction_id, "ingest#received")
    settled = audit_row(stack, transaction_id, "settlement#settled")
    assert (validation["action"], validation["at"], validation["detail"]) == (
        "validation.passed",
        VALIDATED_AT,
        {"outcome": "PASS", "reasons": []},
    )
    assert (fraud["action"], fraud["at"], fraud["detail"]) == (
        "fraud.approved",
        SCORED_AT,
        {"outcome": "APPROVE", "score": "0.10", "reasons": ["customer_unknown"]},
    )
    assert (received["action"], received["at"]) == ("payment.received", CREATED_AT)
    assert (settled["action"], settled["at"], settled["detail"]) == (
        "payment.settled",
        item["updated_at"],
        {
            "amount": "12.34",
            "currency": "USD",
            "fee": "0.66",
            "net": "11.68",
            "settled_at": item["updated_at"],
        },
    )


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("settle", {}),
        ("decline", {"checks": {"validation": {"outcome": "FAIL", "reasons": ["token_invalid"]}}}),
        ("fail", {"error": FAILURE, "execution_name": "attempt-1"}),
    ],
)
def test_each_action_is_one_conditional_update_of_the_transaction(stack, monkeypatch, action, fields):
    """Given any action, the settlement function makes exactly one AWS call to DynamoDB: the
    guarded UpdateItem of the transaction item. No read, no settlements table, no audit table."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)

    with dynamodb_calls(monkeypatch) as calls:
        stack.invoke("SettlementFunction", settlement_event(action, transaction_id, document, **fields))

    assert [operation for operation, _ in calls] == ["UpdateItem"]
    (_, params) = calls[0]
    assert params["TableName"] == stack.outputs["TransactionsTableName"]
    assert params["Key"] == {"transaction_id": {"S": transaction_id}}
    assert "#status IN (:received, :failed)" in params["ConditionExpression"]


def test_settlement_record_follows_the_settled_status_with_exact_amounts_and_the_fee(stack):
    """Given a settled payment, the settle step itself writes no settlement record; the archive
    function puts it from the SETTLED image, with the amounts exact and the fee schedule applied."""
    transaction_id = new_transaction_id()
    document = payment(amount="10.000", currency="KWD")
    seed_transaction(stack, transaction_id, document, created_at=CREATED_AT)
    drain_audit_stream(stack)

    settled = stack.invoke("SettlementFunction", settlement_event("settle", transaction_id, document))

    assert stored_settlement_record(stack, transaction_id) is None
    record = settlement_record(stack, transaction_id)
    assert (str(record["amount"]), str(record["fee"]), str(record["net"])) == ("10.000", "0.390", "9.610")
    assert record == {
        "transaction_id": transaction_id,
        "merchant_id": "m_123",
        "reference": document["reference"],
        "amount": Decimal("10.000"),
        "currency": "KWD",
        "fee": Decimal("0.390"),
        "net": Decimal("9.610"),
        "fee_rate": "0.029",
        "fixed_fee": Decimal("0.100"),
        "received_at": CREATED_AT,
        "settled_at": settled["settlement"]["settled_at"],
    }


def test_the_archive_follows_the_settled_status_encrypted_with_amounts_as_strings_and_no_token(stack):
    """Given a settled payment, the archive function writes its entry, under the settlement day,
    from the transactions table's stream: encrypted, no JSON number, no card token."""
    transaction_id = new_transaction_id()
    document = payment(amount="12.34")
    seed_transaction(stack, transaction_id, document, created_at=CREATED_AT)

    settled = stack.invoke("SettlementFunction", settlement_event("settle", transaction_id, document))

    (entry,) = archive_entries(stack, transaction_id)
    day = settled["settlement"]["settled_at"][:10].replace("-", "/")
    assert entry["key"].startswith(f"archive/{day}/") and entry["key"].endswith(".jsonl")
    obj = s3(stack).get_object(Bucket=stack.outputs["ArchiveBucketName"], Key=entry["key"])
    body = obj["Body"].read()
    assert obj["ServerSideEncryption"] == "AES256"
    assert b"tok_visa_4242" not in body
    for line in body.decode().splitlines():
        json.loads(line, parse_float=lambda text: pytest.fail(f"JSON number {text} in the archive"))
    assert (entry["amount"], entry["fee"], entry["net"]) == ("12.34", "0.66", "11.68")
    assert entry["payment_method"] == {"type": "card", "brand": "visa", "last4": "4242", "country": "US"}
    assert (entry["received_at"], entry["settled_at"]) == (CREATED_AT, settled["settlement"]["settled_at"])


def _settle_is_refused_and_leaves_nothing(stack, transaction_id, document):
    """Settle on a DECLINED payment is refused whole by the transaction's own guard (settle reads
    nothing first): once the stream has run, no settlement record, no archive entry, no settled row."""
    with pytest.raises(LambdaFunctionError) as raised:
        stack.invoke("SettlementFunction", settlement_event("settle", transaction_id, document))

    assert raised.value.error_type == "StatusTransitionRejected"
    assert transaction(stack, transaction_id)["status"] == "DECLINED"
    assert settlement_record(stack, transaction_id) is None
    assert archive_entries(stack, transaction_id) == []
    assert "settlement#settled" not in sks(stack, transaction_id)


def test_settle_after_decline_is_rejected(stack):
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document, created_at=CREATED_AT)
    failed = {
        "validation": {"outcome": "FAIL", "reasons": ["token_invalid"]},
        "fraud": {"outcome": "APPROVE"},
    }
    stack.invoke("SettlementFunction", settlement_event("decline", transaction_id, document, checks=failed))

    _settle_is_refused_and_leaves_nothing(stack, transaction_id, document)


def test_decline_path_records_reasons_once(stack):
    """Given a fraud decline, the payment is DECLINED with the reasons and the checks; a re-run is
    refused, changes nothing and adds no row."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    checks = {
        "validation": {"outcome": "PASS", "reasons": [], "checked_at": VALIDATED_AT},
        "fraud": {
            "outcome": "DECLINE",
            "score": "0.80",
            "reasons": ["amount_very_high", "country_mismatch"],
            "checked_at": SCORED_AT,
        },
    }

    first = stack.invoke(
        "SettlementFunction", settlement_event("decline", transaction_id, document, checks=checks)
    )
    after_first = transaction(stack, transaction_id)
    rows_after_first = audit_rows(stack, transaction_id)
    again = stack.invoke(
        "SettlementFunction", settlement_event("decline", transaction_id, document, checks=checks)
    )

    reasons = ["fraud_risk_too_high", "amount_very_high", "country_mismatch"]
    assert first == {
        "transaction_id": transaction_id,
        "status": "DECLINED",
        "decline_reasons": reasons,
        "replayed": False,
    }
    assert again == {**first, "replayed": True}
    assert after_first["status"] == "DECLINED"
    assert after_first["decline_reasons"] == reasons
    assert (after_first["validation"], after_first["fraud"]) == (checks["validation"], checks["fraud"])
    assert "settlement" not in after_first
    assert transaction(stack, transaction_id) == after_first
    assert audit_rows(stack, transaction_id) == rows_after_first
    assert sorted(row["sk"] for row in rows_after_first) == [
        "fraud#completed",
        "ingest#received",
        "settlement#declined",
        "validation#completed",
    ]
    row = audit_row(stack, transaction_id, "settlement#declined")
    assert (row["action"], row["outcome"], row["detail"]) == (
        "payment.declined",
        "DECLINED",
        {"reasons": reasons},
    )
    assert audit_row(stack, transaction_id, "fraud#completed")["action"] == "fraud.declined"
    assert settlement_record(stack, transaction_id) is None


def test_a_check_that_errored_is_not_stored_and_leaves_no_row(stack):
    """Given a check whose branch errored (its Catch's ERROR outcome), the final write stores only
    the check that produced a result, and only that check gets an audit row."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    checks = {
        "validation": {"outcome": "FAIL", "reasons": ["token_invalid"], "checked_at": VALIDATED_AT},
        "fraud": {"outcome": "ERROR", "error": "DependencyError", "cause": "velocity query failed"},
    }

    stack.invoke("SettlementFunction", settlement_event("decline", transaction_id, document, checks=checks))

    item = transaction(stack, transaction_id)
    assert item["validation"] == checks["validation"]
    assert "fraud" not in item
    assert sks(stack, transaction_id) == ["ingest#received", "settlement#declined", "validation#completed"]


def test_fail_path_records_failed_with_a_redacted_cause(stack):
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    cause = json.dumps(
        {"errorType": "DependencyError", "errorMessage": "archive write failed for tok_visa_4242"}
    )

    result = stack.invoke(
        "SettlementFunction",
        settlement_event(
            "fail", transaction_id, document, error={"Error": "DependencyError", "Cause": cause}
        ),
    )

    failure = {"error": "DependencyError", "cause": "DependencyError: archive write failed for [redacted]"}
    # A direct call names no execution: its one attempt is the unnamed one.
    recorded = {**failure, "execution": ""}
    assert result == {
        "transaction_id": transaction_id,
        "status": "FAILED",
        "failure": recorded,
        "complete": False,
        "replayed": False,
    }
    item = transaction(stack, transaction_id)
    assert (item["status"], item["failure"]) == ("FAILED", recorded)
    row = audit_row(stack, transaction_id, "settlement#failed")
    assert (row["action"], row["outcome"], row["detail"]) == ("payment.failed", "FAILED", failure)
    assert "tok_visa_4242" not in json.dumps(audit_rows(stack, transaction_id), default=str)


def test_a_failure_retried_by_the_same_execution_is_recorded_once_and_each_attempt_has_its_row(stack):
    """Given RecordFailure run twice by one execution, the second write is refused and answers with
    the first's failure: one row for that attempt. The next attempt's failure is its own row."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    attempt_1, attempt_2 = f"{transaction_id}-1", f"{transaction_id}-2"

    def fail(execution, cause):
        error = {"Error": "DependencyError", "Cause": cause}
        return stack.invoke(
            "SettlementFunction",
            settlement_event("fail", transaction_id, document, error=error, execution_name=execution),
        )

    first = fail(attempt_1, "first cause")
    recorded = transaction(stack, transaction_id)
    rows = audit_rows(stack, transaction_id)
    retried = fail(attempt_1, "a different cause on the retry")

    first_failure = {"error": "DependencyError", "cause": "first cause", "execution": attempt_1}
    assert (first["failure"], first["complete"], first["replayed"]) == (first_failure, False, False)
    assert (retried["status"], retried["failure"], retried["complete"], retried["replayed"]) == (
        "FAILED",
        first_failure,
        False,
        True,
    )
    assert transaction(stack, transaction_id) == recorded
    assert audit_rows(stack, transaction_id) == rows
    assert sorted(row["sk"] for row in rows) == ["ingest#received", f"settlement#failed#{attempt_1}"]

    second = fail(attempt_2, "second cause")

    assert (second["failure"]["execution"], second["replayed"]) == (attempt_2, False)
    assert transaction(stack, transaction_id)["failure"]["execution"] == attempt_2
    assert sks(stack, transaction_id) == [
        "ingest#received",
        f"settlement#failed#{attempt_1}",
        f"settlement#failed#{attempt_2}",
    ]
    assert (
        audit_row(stack, transaction_id, f"settlement#failed#{attempt_1}")["detail"]["cause"] == "first cause"
    )


@pytest.mark.parametrize("final", ["settle", "decline"])
def test_fail_after_the_payment_is_final_writes_nothing_and_says_it_is_complete(stack, final):
    """Given a payment already SETTLED or DECLINED, RecordFailure's write is refused: the final
    write was the whole step (what follows from it the stream delivers), so the payment is complete."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    checks = (
        CHECKS if final == "settle" else {"validation": {"outcome": "FAIL", "reasons": ["token_invalid"]}}
    )
    done = stack.invoke(
        "SettlementFunction", settlement_event(final, transaction_id, document, checks=checks)
    )
    finished = transaction(stack, transaction_id)
    rows = audit_rows(stack, transaction_id)

    result = stack.invoke(
        "SettlementFunction",
        settlement_event(
            "fail", transaction_id, document, error={"Error": "X", "Cause": "late"}, execution_name="late-1"
        ),
    )

    assert result == {
        "transaction_id": transaction_id,
        "status": done["status"],
        "complete": True,
        "replayed": True,
    }
    assert transaction(stack, transaction_id) == finished
    assert audit_rows(stack, transaction_id) == rows
    assert not any(row["sk"].startswith("settlement#failed") for row in rows)


def test_a_failed_payment_is_settled_by_a_later_attempt(stack):
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    stack.invoke(
        "SettlementFunction",
        settlement_event(
            "fail", transaction_id, document, error={"Error": "X", "Cause": "y"}, execution_name="a-1"
        ),
    )

    result = stack.invoke(
        "SettlementFunction", settlement_event("settle", transaction_id, document, checks=CHECKS)
    )

    assert (result["status"], result["replayed"]) == ("SETTLED", False)
    assert transaction(stack, transaction_id)["status"] == "SETTLED"
    assert sks(stack, transaction_id) == sorted([*SETTLED_ROWS, "settlement#failed#a-1"])
    assert settlement_record(stack, transaction_id)["net"] == Decimal("11.68")
    assert len(archive_entries(stack, transaction_id)) == 1


def test_settle_of_a_transaction_never_received_fails_loudly(stack):
    transaction_id = new_transaction_id()

    with pytest.raises(LambdaFunctionError) as raised:
        stack.invoke("SettlementFunction", settlement_event("settle", transaction_id, payment()))

    assert raised.value.error_type == "TransactionNotFound"
    assert transaction(stack, transaction_id) is None
    assert settlement_record(stack, transaction_id) is None
    assert audit_rows(stack, transaction_id) == []


@pytest.mark.parametrize(
    ("action", "fields", "status", "rows"),
    [
        ("settle", {"checks": CHECKS}, "SETTLED", SETTLED_ROWS),
        (
            "decline",
            {
                "checks": {
                    "validation": {
                        "outcome": "FAIL",
                        "reasons": ["token_invalid"],
                        "checked_at": VALIDATED_AT,
                    }
                }
            },
            "DECLINED",
            ["ingest#received", "settlement#declined", "validation#completed"],
        ),
        (
            "fail",
            {"error": FAILURE, "execution_name": "crash-1"},
            "FAILED",
            ["ingest#received", "settlement#failed#crash-1"],
        ),
    ],
)
def test_a_crash_right_after_the_final_write_is_done_and_the_retry_only_reads_it_back(
    stack, fault_plan, action, fields, status, rows
):
    """Given the function dying right after its UpdateItem landed, the payment already has its new
    status; the retry's write is refused and answers with what the first run wrote, and the stream
    makes each effect exactly once: one set of rows, and for a settlement one record and one entry."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    fault_plan.add(
        Rule(
            Kind.CRASH_AFTER_CALL,
            function="SettlementFunction",
            transaction_id=transaction_id,
            service="dynamodb",
            operation="UpdateItem",
            count=1,
        )
    )
    event = settlement_event(action, transaction_id, document, **fields)

    with pytest.raises(LambdaFunctionError) as crashed:
        stack.invoke("SettlementFunction", event)
    written = transaction(stack, transaction_id)
    retried = stack.invoke("SettlementFunction", event)

    assert crashed.value.error_type == faults.EXIT_ERROR
    assert written["status"] == status
    assert (retried["status"], retried["replayed"]) == (status, True)
    assert transaction(stack, transaction_id) == written
    assert sks(stack, transaction_id) == rows
    if status == "SETTLED":
        assert retried["settlement"]["settled_at"] == written["settlement"]["settled_at"]
        assert settlement_record(stack, transaction_id)["settled_at"] == written["settlement"]["settled_at"]
        assert len(archive_entries(stack, transaction_id)) == 1
    elif status == "DECLINED":
        assert retried["decline_reasons"] == written["decline_reasons"] == ["token_invalid"]
    else:
        assert (retried["failure"], retried["complete"]) == (written["failure"], False)


@pytest.mark.parametrize(
    ("kind", "error"),
    [(Kind.DEPENDENCY_ERROR, "ProvisionedThroughputExceededException"), (Kind.CRASH_AFTER_CALL, "")],
    ids=["records-write-throttled", "crash-after-records-write"],
)
def test_a_fault_in_the_settlement_records_write_is_retried_and_the_record_lands_once(
    stack, fault_plan, kind, error
):
    """Given the archive function's BatchWriteItem of the settlement records failing (or the
    function dying right after it), the stream delivers the batch again: one record, one entry."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document, created_at=CREATED_AT)
    drain_audit_stream(stack)
    settled = stack.invoke("SettlementFunction", settlement_event("settle", transaction_id, document))
    rule = fault_plan.add(
        Rule(
            kind,
            error,
            function="ArchiveFunction",
            transaction_id=transaction_id,
            service="dynamodb",
            operation="BatchWriteItem",
            count=1,
        )
    )

    record = settlement_record(stack, transaction_id)

    assert rule.fired == 1
    assert (record["settled_at"], record["received_at"], record["net"]) == (
        settled["settlement"]["settled_at"],
        CREATED_AT,
        Decimal("11.68"),
    )
    assert len(archive_entries(stack, transaction_id)) == 1
