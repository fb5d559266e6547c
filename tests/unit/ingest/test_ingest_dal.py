"""The ingest adapters against stubbed AWS clients: call shapes, batching and error translation."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from ingest_svc.dal import idempotency, queue, transactions, workflow
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


def test_idempotency_store_down_answers_503_per_request(client, ports, payment):
    """Given DynamoDB failing the idempotency write, Then 503 dependency_error and nothing is queued."""
    ports.idempotency_records.down = True

    response = client.post_payment("k-down", payment)

    assert response.status == 503
    assert response.body["error"]["code"] == "dependency_error"
    assert ports.queue.messages == []


def _records(count: int) -> list[dict[str, Any]]:
    return [
        {"id": f"ingest.payment#tx-{i}", "expiration": 2_000, "status": "COMPLETED", "validation": f"h-{i}"}
        for i in range(count)
    ]


def _cancelled(codes: list[str], held: dict[int, str]) -> ClientError:
    """DynamoDB's answer to a cancelled transaction: a reason per item, the holder's item where refused."""
    reasons = []
    for position, code in enumerate(codes):
        reason: dict[str, Any] = {"Code": code}
        if position in held:
            reason["Item"] = {"id": {"S": f"x-{position}"}, "validation": {"S": held[position]}}
        reasons.append(reason)
    response: Any = {
        "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
        "CancellationReasons": reasons,
    }
    return ClientError(response, "TransactWriteItems")


class TransactClient:
    """Answers TransactWriteItems with the given errors in turn (None: success); records each call's ids."""

    def __init__(self, *answers: ClientError | None) -> None:
        self.answers = list(answers)
        self.calls: list[list[str]] = []

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append([item["Put"]["Item"]["id"]["S"] for item in kwargs["TransactItems"]])
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer
        return {}


def test_claims_are_one_conditional_transaction_per_hundred_keys():
    client = TransactClient()

    taken = idempotency.ClaimTable("idem", dynamodb=client).claim(_records(150), now=1_000)

    assert taken == [None] * 150
    assert [len(call) for call in client.calls] == [100, 50]


def test_a_cancelled_claim_names_the_taken_keys_and_claims_the_rest_again():
    """Given two of four keys taken, the transaction is cancelled whole: the taken keys come back
    with their holders' hashes, and the other two are claimed in a second transaction."""
    codes = ["None", "ConditionalCheckFailed", "TransactionConflict", "ConditionalCheckFailed"]
    client = TransactClient(_cancelled(codes, {1: "h-1", 3: "other"}))

    taken = idempotency.ClaimTable("idem", dynamodb=client).claim(_records(4), now=1_000)

    assert taken == [None, idempotency.Taken("h-1"), None, idempotency.Taken("other")]
    assert client.calls == [
        [f"ingest.payment#tx-{i}" for i in range(4)],
        ["ingest.payment#tx-0", "ingest.payment#tx-2"],
    ]


def test_claims_that_keep_conflicting_are_a_dependency_error():
    conflict = _cancelled(["TransactionConflict"], {})
    client = TransactClient(conflict, conflict, conflict, conflict)

    with pytest.raises(DependencyError):
        idempotency.ClaimTable("idem", dynamodb=client).claim(_records(1), now=1_000)


def test_a_claim_the_table_refuses_outright_is_a_dependency_error():
    refused = ClientError({"Error": {"Code": "ValidationException", "Message": "x"}}, "TransactWriteItems")

    with pytest.raises(DependencyError):
        idempotency.ClaimTable("idem", dynamodb=TransactClient(refused)).claim(_records(1), now=1_000)


def test_claim_puts_are_conditional_on_a_free_key_and_return_the_holder():
    (put,) = [item["Put"] for item in _transact_items(_records(1))]

    assert put["ConditionExpression"] == "attribute_not_exists(#id) OR #expiration < :now"
    assert put["ExpressionAttributeValues"] == {":now": {"N": "1000"}}
    assert put["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"
    assert put["Item"]["status"] == {"S": "COMPLETED"}


def _transact_items(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: list[Any] = []

    class Client:
        def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
            seen.extend(kwargs["TransactItems"])
            return {}

    idempotency.ClaimTable("idem", dynamodb=Client()).claim(records, now=1_000)
    return seen


def test_releases_delete_in_batches_of_twenty_five():
    deleted: list[int] = []

    class Client:
        def batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
            deleted.append(len(kwargs["RequestItems"]["idem"]))
            return {}

    idempotency.ClaimTable("idem", dynamodb=Client()).delete([f"id-{i}" for i in range(30)])

    assert deleted == [25, 5]
