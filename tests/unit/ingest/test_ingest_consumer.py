"""The SQS consumer: record once, run the workflow, report only what a retry can fix."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from ingest_svc import bootstrap
from ingest_svc.handlers import consumer
from ingest_svc.logic.ports import WorkflowRun
from ingest_svc.logic.record import RecordPorts, transaction_item
from payments_core.ids import payload_hash, transaction_id
from payments_core.models import Payment, PaymentMessage


@dataclass
class FakeWorkflow:
    status: str = "SUCCEEDED"
    runs: list[tuple[str, dict[str, Any], float]] = field(default_factory=list)

    def run(self, name: str, payload: dict[str, Any], *, timeout_seconds: float) -> WorkflowRun:
        self.runs.append((name, payload, timeout_seconds))
        return WorkflowRun(status=self.status, error=None if self.status == "SUCCEEDED" else "PaymentFailed")


@pytest.fixture
def workflow() -> FakeWorkflow:
    return FakeWorkflow()


@pytest.fixture
def wired(ports, workflow):
    wiring = RecordPorts(transactions=ports.transactions, audit=ports.audit, workflow=workflow)
    with bootstrap.consumer.override(wiring):
        yield ports


def message(payment: dict[str, Any], key: str = "order-1", submitter: str = "key-alpha") -> PaymentMessage:
    parsed = Payment.model_validate(payment)
    return PaymentMessage(
        transaction_id=transaction_id(submitter, key),
        submitter=submitter,
        idempotency_key=key,
        payload_hash=payload_hash(parsed.to_document()),
        received_at="2026-01-01T10:00:00.000000Z",
        payment=parsed,
    )


def record(body: str | PaymentMessage, message_id: str = "m-1", receive_count: int = 1) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body.model_dump(mode="json", exclude_none=True))
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": text,
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1767261600000"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:payments",
        "awsRegion": "us-east-1",
    }


@pytest.fixture
def run_consumer(make_context):
    def run(*records: dict[str, Any], remaining_ms: int = 25_000) -> list[str]:
        """Invoke the handler; the message ids it reports in batchItemFailures."""
        response = consumer.lambda_handler({"Records": list(records)}, make_context(remaining_ms))
        return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]

    return run


def test_first_delivery_records_the_transaction_and_runs_the_workflow(run_consumer, wired, workflow, payment):
    msg = message(payment)

    failures = run_consumer(record(msg, receive_count=2))

    assert failures == []
    item = wired.transactions.items[msg.transaction_id]
    assert item["status"] == "RECEIVED" and item["amount"] == Decimal("12.34")
    assert item["created_at"] == item["updated_at"] == msg.received_at
    assert item["payload_hash"] == msg.payload_hash and item["submitter"] == "key-alpha"
    # The received row is the trail's, from the put's stream record: the consumer appends none.
    assert wired.audit.rows == {}
    ((name, payload, _),) = workflow.runs
    assert name == f"{msg.transaction_id}-2"
    assert payload == {
        "transaction_id": msg.transaction_id,
        "payment": msg.payment.to_document(),
        "received_at": msg.received_at,
    }
    assert payload["payment"]["amount"] == "12.34"


def test_duplicate_delivery_writes_no_second_item_or_row(run_consumer, wired, workflow, payment):
    msg = message(payment)

    assert run_consumer(record(msg, "m-1"), record(msg, "m-2")) == []

    assert len(wired.transactions.items) == 1
    assert len(workflow.runs) == 2, "an unfinished payment's workflow runs again on redelivery"


@pytest.mark.parametrize("final", ["SETTLED", "DECLINED"])
def test_delivery_of_a_finished_payment_does_not_start_the_workflow_again(
    run_consumer, wired, workflow, payment, final
):
    """The final status is the workflow's last write: what follows from it the stream delivers."""
    msg = message(payment)
    run_consumer(record(msg))
    wired.transactions.items[msg.transaction_id]["status"] = final

    assert run_consumer(record(msg, "m-2", receive_count=2)) == []

    assert len(workflow.runs) == 1


def test_failed_payment_is_retried_by_redelivery(run_consumer, wired, workflow, payment):
    msg = message(payment)
    run_consumer(record(msg))
    wired.transactions.items[msg.transaction_id]["status"] = "FAILED"

    run_consumer(record(msg, "m-2", receive_count=2))

    assert [name for name, _, _ in workflow.runs] == [f"{msg.transaction_id}-1", f"{msg.transaction_id}-2"]


def test_conflicting_payload_under_a_used_id_is_audited_and_not_retried(
    run_consumer, wired, workflow, payment
):
    """Given an item recorded for the id, When a message with another body arrives, Then audit + drop."""
    run_consumer(record(message(payment)))
    other = message({**payment, "amount": "99.00"})

    failures = run_consumer(record(other, "m-2"))

    assert failures == []
    assert wired.transactions.items[other.transaction_id]["amount"] == Decimal("12.34")
    row = wired.audit.rows[(other.transaction_id, "ingest#conflict")]
    assert row.action == "payment.conflict"
    assert row.detail["payload_hash"] == other.payload_hash
    assert len(workflow.runs) == 1


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT"])
def test_workflow_that_did_not_succeed_reports_the_record_for_redelivery(
    run_consumer, wired, workflow, payment, status
):
    workflow.status = status
    good = message(payment, key="ok")

    assert run_consumer(record(message(payment), "m-1"), record(good, "m-2")) == ["m-1", "m-2"]


def test_poison_body_is_reported_failed_while_good_records_are_not_and_never_logged(
    run_consumer, wired, workflow, payment, capsys, caplog
):
    poison = '{"transaction_id": "x", "payment": {"note": "4111111111111111"'

    failures = run_consumer(record(poison, "m-bad"), record(message(payment), "m-good"))

    assert failures == ["m-bad"]
    assert len(workflow.runs) == 1
    captured = capsys.readouterr()
    logged = captured.out + captured.err + caplog.text
    assert "4111" not in logged
    assert "m-bad" in caplog.text


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body: body.update(payload_hash="0" * 64),
        lambda body: body.update(transaction_id=transaction_id("key-alpha", "someone-else")),
        lambda body: body["payment"].update(amount="12.345"),
        lambda body: body.pop("submitter"),
        lambda body: body.update(received_at="yesterday"),
    ],
    ids=["hash", "transaction-id", "amount", "missing-field", "received-at"],
)
def test_message_that_does_not_add_up_is_poison(run_consumer, wired, workflow, payment, tamper):
    body = message(payment).model_dump(mode="json", exclude_none=True)
    tamper(body)

    assert run_consumer(record(json.dumps(body))) == ["m-1"]
    assert wired.transactions.items == {} and workflow.runs == []


def test_too_little_time_left_hands_the_record_back_before_starting(run_consumer, wired, workflow, payment):
    assert run_consumer(record(message(payment)), remaining_ms=2_500) == ["m-1"]
    assert workflow.runs == []


def test_workflow_wait_is_bounded_by_the_invocation_time_left(run_consumer, wired, workflow, payment):
    run_consumer(record(message(payment)), remaining_ms=20_000)

    ((_, _, timeout),) = workflow.runs
    assert 2 <= timeout <= 19


def test_transaction_item_carries_the_contract_fields(payment):
    msg = message(payment)

    item = transaction_item(msg)

    assert set(item) == {
        "transaction_id", "status", "merchant_id", "customer_id", "amount", "currency", "reference",
        "payment_method", "customer", "metadata", "submitter", "idempotency_key", "payload_hash",
        "created_at", "updated_at",
    }  # fmt: skip
    assert item["customer_id"] == "c_42" and item["customer"] == {"id": "c_42", "country": "US"}
    assert isinstance(item["amount"], Decimal)
