"""The ingest adapters against stubbed AWS clients: call shapes, batching and error translation."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from ingest_svc.dal import queue, transactions, workflow
from ingest_svc.logic.ports import WorkflowRun
from ingest_svc.logic.record import transaction_item
from payments_core.dynamo import serialize
from payments_core.errors import DependencyError
from payments_core.ids import payload_hash, transaction_id
from payments_core.models import Payment, PaymentMessage

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/payments"


def messages(payment: dict[str, Any], count: int) -> list[PaymentMessage]:
    parsed = Payment.model_validate(payment)
    return [
        PaymentMessage(
            transaction_id=transaction_id("key-alpha", f"k-{i}"),
            submitter="key-alpha",
            idempotency_key=f"k-{i}",
            payload_hash=payload_hash(parsed.to_document()),
            received_at="2026-01-01T10:00:00.000000Z",
            payment=parsed,
        )
        for i in range(count)
    ]


def stubbed(service: str) -> tuple[Any, Stubber]:
    client = boto3.session.Session().client(service, region_name="us-east-1")
    stubber = Stubber(client)
    stubber.activate()
    return client, stubber


def test_single_message_body_and_attributes_follow_the_contract(payment):
    sqs, stub = stubbed("sqs")
    (msg,) = messages(payment, 1)
    stub.add_response(
        "send_message",
        {"MessageId": "1"},
        {"QueueUrl": QUEUE_URL, "MessageBody": ANY, "MessageAttributes": queue.message_attributes(msg)},
    )

    assert queue.PaymentsQueue(QUEUE_URL, sqs).send([msg]) == set()

    body = json.loads(queue.message_body(msg))
    assert set(body) == {
        "transaction_id",
        "submitter",
        "idempotency_key",
        "payload_hash",
        "received_at",
        "payment",
    }
    assert body["payment"]["amount"] == "12.34"
    assert queue.message_attributes(msg) == {
        "transaction_id": {"DataType": "String", "StringValue": msg.transaction_id},
        "submitter": {"DataType": "String", "StringValue": "key-alpha"},
    }
    stub.assert_no_pending_responses()


def test_many_messages_go_in_batches_of_ten_and_failed_entries_are_reported(payment):
    """Given 23 messages and SQS failing entry 4 of the second call, Then 10+10+3 entries, one failure."""
    sqs, stub = stubbed("sqs")
    batch = messages(payment, 23)
    for size, failed in (
        (10, []),
        (10, [{"Id": "4", "SenderFault": False, "Code": "InternalError"}]),
        (3, []),
    ):
        successful = [{"Id": str(i), "MessageId": str(i), "MD5OfMessageBody": "x"} for i in range(size)]
        stub.add_response(
            "send_message_batch",
            {"Successful": successful, "Failed": failed},
            {"QueueUrl": QUEUE_URL, "Entries": ANY},
        )

    failed_ids = queue.PaymentsQueue(QUEUE_URL, sqs).send(batch)

    assert failed_ids == {batch[14].transaction_id}
    stub.assert_no_pending_responses()


def test_a_batch_call_that_fails_outright_fails_its_ten_entries_only(payment):
    sqs, stub = stubbed("sqs")
    batch = messages(payment, 12)
    stub.add_client_error("send_message_batch", "ServiceUnavailable", http_status_code=503)
    stub.add_response(
        "send_message_batch", {"Successful": [], "Failed": []}, {"QueueUrl": QUEUE_URL, "Entries": ANY}
    )

    failed_ids = queue.PaymentsQueue(QUEUE_URL, sqs).send(batch)

    assert failed_ids == {m.transaction_id for m in batch[:10]}


def test_create_puts_conditionally_and_reports_a_new_item_as_none(payment):
    dynamodb, stub = stubbed("dynamodb")
    (msg,) = messages(payment, 1)
    item = transaction_item(msg)
    stub.add_response(
        "put_item",
        {},
        {
            "TableName": "transactions",
            "Item": serialize(item),
            "ConditionExpression": "attribute_not_exists(transaction_id)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
    )

    assert transactions.TransactionsTable("transactions", dynamodb).create(item) is None
    assert serialize(item)["amount"] == {"N": "12.34"}


def test_create_returns_the_item_that_stood(payment):
    dynamodb, stub = stubbed("dynamodb")
    (msg,) = messages(payment, 1)
    item = transaction_item(msg)
    stub.add_client_error(
        "put_item",
        "ConditionalCheckFailedException",
        modeled_fields={"Item": serialize({**item, "status": "SETTLED"})},
    )

    existing = transactions.TransactionsTable("transactions", dynamodb).create(item)

    assert existing is not None and existing["status"] == "SETTLED" and existing["amount"] == Decimal("12.34")


def test_create_fills_in_an_item_a_check_step_created_first(payment):
    """Given an item holding only a fraud result, Then ingest sets its own fields and keeps the result."""
    dynamodb, stub = stubbed("dynamodb")
    (msg,) = messages(payment, 1)
    item = transaction_item(msg)
    partial = {"transaction_id": msg.transaction_id, "fraud": {"outcome": "APPROVE"}}
    stub.add_client_error(
        "put_item", "ConditionalCheckFailedException", modeled_fields={"Item": serialize(partial)}
    )
    stub.add_response(
        "update_item",
        {},
        {
            "TableName": "transactions",
            "Key": {"transaction_id": {"S": msg.transaction_id}},
            "UpdateExpression": ANY,
            "ConditionExpression": "attribute_not_exists(#hash)",
            "ExpressionAttributeNames": ANY,
            "ExpressionAttributeValues": ANY,
        },
    )

    assert transactions.TransactionsTable("transactions", dynamodb).create(item) is None
    stub.assert_no_pending_responses()


def test_transactions_throttling_becomes_a_dependency_error(payment):
    dynamodb, stub = stubbed("dynamodb")
    (msg,) = messages(payment, 1)
    stub.add_client_error("put_item", "ProvisionedThroughputExceededException")

    with pytest.raises(DependencyError) as raised:
        transactions.TransactionsTable("transactions", dynamodb).create(transaction_item(msg))
    assert isinstance(raised.value.__cause__, ClientError)


def test_workflow_runs_synchronously_with_the_contract_input():
    sfn, stub = stubbed("stepfunctions")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:workflow"
    payload = {"transaction_id": "t", "payment": {"amount": "1.00"}, "received_at": "2026-01-01T00:00:00Z"}
    stub.add_response(
        "start_sync_execution",
        {
            "executionArn": f"{arn}:x",
            "startDate": "2026-01-01T00:00:00Z",
            "stopDate": "2026-01-01T00:00:01Z",
            "status": "FAILED",
            "error": "PaymentFailed",
        },
        {"stateMachineArn": arn, "name": "t-1", "input": json.dumps(payload, separators=(",", ":"))},
    )

    run = workflow.Workflow(arn, sfn).run("t-1", payload, timeout_seconds=10)

    assert run == WorkflowRun(status="FAILED", error="PaymentFailed")


def test_workflow_start_error_becomes_a_dependency_error():
    sfn, stub = stubbed("stepfunctions")
    stub.add_client_error("start_sync_execution", "ThrottlingException")

    with pytest.raises(DependencyError):
        workflow.Workflow("arn:aws:states:us-east-1:123456789012:stateMachine:w", sfn).run(
            "n", {}, timeout_seconds=5
        )


def test_sync_client_read_timeout_follows_the_time_left_and_never_retries():
    client = workflow.sync_client(23.7)

    assert client.meta.config.read_timeout == 20
    assert client.meta.config.retries["total_max_attempts"] == 1
    assert workflow.sync_client(3.2).meta.config.read_timeout == 3


def test_idempotency_store_down_answers_503_per_request(client, ports, payment, monkeypatch):
    """Given DynamoDB failing the idempotency write, Then 503 dependency_error and nothing is queued."""

    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, "PutItem")

    monkeypatch.setattr(ports.idempotency_records, "_put_record", unavailable)

    response = client.post_payment("k-down", payment)

    assert response.status == 503
    assert response.body["error"]["code"] == "dependency_error"
    assert ports.queue.messages == []
