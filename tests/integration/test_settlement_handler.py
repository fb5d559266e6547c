"""The settlement Lambda on the deployed stack: settle exactly once, decline, fail, and their guards."""

import json

import boto3
import pytest

from payctl.runtime import LambdaFunctionError
from tests.factories import fresh_payment as payment
from tests.integration.workflow_support import (
    archive_entries,
    audit_row,
    audit_rows,
    counter,
    new_transaction_id,
    seed_transaction,
    settlement_event,
    table,
    transaction,
)

CREATED_AT = "2026-03-01T23:59:59.123456Z"


def s3(stack):
    return boto3.client("s3", region_name=stack.region)


def settlement_record(stack, transaction_id):
    return (
        table(stack, "SettlementsTableName")
        .get_item(Key={"transaction_id": transaction_id}, ConsistentRead=True)
        .get("Item")
    )


def test_settle_exactly_once(stack):
    """Given settle runs twice, there is one settlement record, one archive entry and one audit row."""
    transaction_id = new_transaction_id()
    document = payment(amount="100.00")
    seed_transaction(stack, transaction_id, document, created_at=CREATED_AT)

    first = stack.invoke("SettlementFunction", settlement_event("settle", transaction_id, document))
    record = settlement_record(stack, transaction_id)
    row = audit_row(stack, transaction_id, "settlement#settled")
    counted = counter(stack, row)
    second = stack.invoke("SettlementFunction", settlement_event("settle", transaction_id, document))

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
    assert settlement_record(stack, transaction_id) == record
    assert len(archive_entries(stack, transaction_id)) == 1
    assert [r["sk"] for r in audit_rows(stack, transaction_id)] == ["settlement#settled"]
    assert counter(stack, row) == counted
    item = transaction(stack, transaction_id)
    assert item["status"] == "SETTLED"
    assert item["settlement"]["net"] == record["net"]


def test_settlement_record_holds_exact_amounts_and_the_fee(stack):
    transaction_id = new_transaction_id()
    document = payment(amount="10.000", currency="KWD")
    seed_transaction(stack, transaction_id, document, created_at=CREATED_AT)

    stack.invoke("SettlementFunction", settlement_event("settle", transaction_id, document))

    record = settlement_record(stack, transaction_id)
    assert (str(record["amount"]), str(record["fee"]), str(record["net"])) == ("10.000", "0.390", "9.610")
    assert (record["currency"], record["merchant_id"]) == ("KWD", "m_123")


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
    nothing first): no settlement record and no archive entry."""
    with pytest.raises(LambdaFunctionError) as raised:
        stack.invoke("SettlementFunction", settlement_event("settle", transaction_id, document))

    assert raised.value.error_type == "StatusTransitionRejected"
    assert transaction(stack, transaction_id)["status"] == "DECLINED"
    assert settlement_record(stack, transaction_id) is None
    assert archive_entries(stack, transaction_id) == []


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
    """Given a fraud decline, the payment is DECLINED with the reasons; a re-run changes nothing."""
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    checks = {
        "validation": {"outcome": "PASS", "reasons": []},
        "fraud": {"outcome": "DECLINE", "score": "0.80", "reasons": ["amount_very_high", "country_mismatch"]},
    }

    first = stack.invoke(
        "SettlementFunction", settlement_event("decline", transaction_id, document, checks=checks)
    )
    after_first = transaction(stack, transaction_id)
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
    assert again["replayed"] is True
    assert after_first["status"] == "DECLINED"
    assert after_first["decline_reasons"] == reasons
    assert transaction(stack, transaction_id) == after_first
    row = audit_row(stack, transaction_id, "settlement#declined")
    assert (row["action"], row["outcome"], row["detail"]) == (
        "payment.declined",
        "DECLINED",
        {"reasons": reasons},
    )


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
    assert result == {
        "transaction_id": transaction_id,
        "status": "FAILED",
        "failure": failure,
        "complete": False,
        "replayed": False,
    }
    item = transaction(stack, transaction_id)
    assert (item["status"], item["failure"]) == ("FAILED", failure)
    row = audit_row(stack, transaction_id, "settlement#failed")
    assert (row["action"], row["outcome"]) == ("payment.failed", "FAILED")


def test_fail_after_settle_is_a_no_op(stack):
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    stack.invoke("SettlementFunction", settlement_event("settle", transaction_id, document))
    settled = transaction(stack, transaction_id)

    result = stack.invoke(
        "SettlementFunction",
        settlement_event("fail", transaction_id, document, error={"Error": "X", "Cause": "late"}),
    )

    assert result["status"] == "SETTLED"
    assert transaction(stack, transaction_id) == settled
    assert [row["sk"] for row in audit_rows(stack, transaction_id)] == ["settlement#settled"]


def test_a_failed_payment_is_settled_by_a_later_attempt(stack):
    transaction_id = new_transaction_id()
    document = payment()
    seed_transaction(stack, transaction_id, document)
    stack.invoke(
        "SettlementFunction",
        settlement_event("fail", transaction_id, document, error={"Error": "X", "Cause": "y"}),
    )

    result = stack.invoke("SettlementFunction", settlement_event("settle", transaction_id, document))

    assert result["status"] == "SETTLED"
    assert transaction(stack, transaction_id)["status"] == "SETTLED"
    assert {row["sk"] for row in audit_rows(stack, transaction_id)} == {
        "settlement#failed",
        "settlement#settled",
    }


def test_settle_of_a_transaction_never_received_fails_loudly(stack):
    transaction_id = new_transaction_id()

    with pytest.raises(LambdaFunctionError) as raised:
        stack.invoke("SettlementFunction", settlement_event("settle", transaction_id, payment()))

    assert raised.value.error_type == "TransactionNotFound"
    assert settlement_record(stack, transaction_id) is None
