"""The ingest API handler on the local stack: real idempotency table, real queue, real reads."""

from __future__ import annotations

import json

import boto3
import pytest

from ingest_svc.dal.idempotency import IDEMPOTENCY_KEY_PREFIX
from payctl.runtime import LambdaFunctionError
from payctl.runtime.faults import Kind, Rule
from payments_core.ids import payload_hash, transaction_id
from payments_core.models import Payment
from tests.factories import fresh_payment as payment


def test_accepted_payment_puts_one_contract_message_on_the_queue(ingest):
    """Given a valid payment, When posted, Then 202 and one message with the contract body and attributes."""
    body = payment()

    reply = ingest.post("order-1", body)

    tid = transaction_id(ingest.api_key_id, "order-1")
    assert reply.status == 202
    assert reply.body == {"transaction_id": tid, "status": "ACCEPTED", "replayed": False}
    (message,) = ingest.receive_all()
    sent = json.loads(message["Body"])
    assert set(sent) == {
        "transaction_id",
        "submitter",
        "idempotency_key",
        "payload_hash",
        "received_at",
        "payment",
    }
    assert (sent["transaction_id"], sent["submitter"], sent["idempotency_key"]) == (
        tid,
        ingest.api_key_id,
        "order-1",
    )
    assert sent["payment"] == body
    assert sent["payload_hash"] == payload_hash(Payment.model_validate(body).to_document())
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert attributes == {"transaction_id": tid, "submitter": ingest.api_key_id}
    assert ingest.transaction(tid) is None, "the API never writes the transaction item"


def test_replay_answers_the_same_body_marked_replayed_and_enqueues_once(ingest):
    body = payment()

    first = ingest.post("order-2", body)
    assert ingest.consume(ingest.receive_all()) == []
    again = ingest.post("order-2", body)

    assert again.status == first.status == 202
    assert again.body == {**first.body, "replayed": True}
    assert ingest.receive_all() == []


def test_a_replay_before_the_consumer_recorded_the_payment_queues_it_again_and_it_is_recorded_once(ingest):
    body = payment()
    first = ingest.post("order-2b", body)

    again = ingest.post("order-2b", body)

    assert again.body == {**first.body, "replayed": True}
    messages = ingest.receive_all()
    assert [json.loads(m["Body"])["transaction_id"] for m in messages] == [first.body["transaction_id"]] * 2
    assert ingest.consume(messages) == []
    received = [
        row for row in ingest.audit_rows(first.body["transaction_id"]) if row["sk"] == "ingest#received"
    ]
    assert len(received) == 1


def test_same_key_with_another_body_is_422(ingest):
    body = payment()
    ingest.post("order-3", body)

    reply = ingest.post("order-3", {**body, "amount": "50.00"})

    assert reply.status == 422
    assert reply.body["error"]["code"] == "idempotency_key_reused"
    assert len(ingest.receive_all()) == 1


@pytest.fixture
def api_faults(ingest):
    yield ingest.stack.faults
    ingest.stack.faults.clear("IngestApiFunction")


def test_a_crash_right_after_the_claim_is_repaired_by_the_clients_retry(ingest, api_faults):
    """Given the API dying right after its claim landed (nothing queued), When the client retries,
    Then the retry replays the claim and queues the payment itself: no 202 for a lost payment."""
    body = payment()
    api_faults.add(
        Rule(
            Kind.CRASH_AFTER_CALL,
            function="IngestApiFunction",
            service="dynamodb",
            operation="TransactWriteItems",
            count=1,
        )
    )

    with pytest.raises(LambdaFunctionError):
        ingest.post("order-4", body)
    assert ingest.receive_all() == []
    retry = ingest.post("order-4", body)

    tid = transaction_id(ingest.api_key_id, "order-4")
    assert (retry.status, retry.body) == (
        202,
        {"transaction_id": tid, "status": "ACCEPTED", "replayed": True},
    )
    assert [json.loads(m["Body"])["transaction_id"] for m in ingest.receive_all()] == [tid]


@pytest.mark.parametrize(
    ("service", "operation", "error", "code"),
    [
        ("dynamodb", "TransactWriteItems", "ProvisionedThroughputExceededException", "dependency_error"),
        ("sqs", "SendMessage", "InternalError", "enqueue_failed"),
    ],
    ids=["claim-throttled", "send-failed"],
)
def test_a_failed_claim_or_send_is_503_and_the_retry_is_accepted(
    ingest, api_faults, service, operation, error, code
):
    """Given the claim or the send failing once, Then 503 with a retryable code, nothing queued and
    no claim left standing: the retry is a first acceptance."""
    body = payment()
    key = f"order-4-{operation}"
    api_faults.add(
        Rule(
            Kind.DEPENDENCY_ERROR,
            error,
            function="IngestApiFunction",
            service=service,
            operation=operation,
            count=1,
        )
    )

    refused = ingest.post(key, body)
    assert ingest.receive_all() == []
    retry = ingest.post(key, body)

    assert refused.status == 503 and refused.body["error"]["code"] == code
    assert retry.status == 202 and retry.body["replayed"] is False
    assert len(ingest.receive_all()) == 1


def test_batch_of_500_with_invalid_items_reports_each_in_order_and_enqueues_only_valid_ones(ingest):
    items = []
    for i in range(500):
        item = {"idempotency_key": f"b-{i}", **payment()}
        if i % 50 == 7:
            item["amount"] = "1.001"
        if i % 50 == 9:
            item["payment_method"] = {**item["payment_method"], "number": "4111111111111111"}
        items.append(item)

    reply = ingest.post_batch(items)

    assert reply.status == 207
    results = reply.body["results"]
    assert [r["index"] for r in results] == list(range(500))
    rejected = {r["index"]: r["error"]["code"] for r in results if r["status"] == "rejected"}
    assert rejected == {
        **dict.fromkeys(range(7, 500, 50), "invalid_amount"),
        **dict.fromkeys(range(9, 500, 50), "card_data_not_allowed"),
    }
    assert (reply.body["accepted"], reply.body["rejected"], reply.body["replayed"]) == (480, 20, 0)
    assert all(
        r["transaction_id"] == transaction_id(ingest.api_key_id, f"b-{r['index']}")
        for r in results
        if r["status"] == "accepted"
    )
    enqueued = ingest.receive_all()
    assert len(enqueued) == 480
    assert {json.loads(m["Body"])["idempotency_key"] for m in enqueued} == {
        f"b-{i}" for i in range(500) if i % 50 not in (7, 9)
    }


def test_batch_of_501_is_413_and_enqueues_nothing(ingest):
    reply = ingest.post_batch([{"idempotency_key": f"k-{i}", **payment()} for i in range(501)])

    assert reply.status == 413
    assert reply.body["error"]["code"] == "batch_too_large"
    assert ingest.receive_all() == []


def test_get_is_404_until_the_consumer_records_the_payment_then_200(ingest):
    """Given an accepted payment, Then GET is 404 before the consumer ran and 200 with its outcome after."""
    tid = ingest.post("order-5", payment(amount="1200", currency="JPY")).body["transaction_id"]

    before = ingest.get(tid)
    poll = ingest.stack.poll_once("IngestConsumerFunction")
    after = ingest.get(tid)

    assert before.status == 404
    assert before.body["error"]["code"] == "transaction_not_found"
    assert poll.received == 1 and poll.failed_message_ids == []
    assert after.status == 200
    assert after.body["transaction_id"] == tid
    assert after.body["amount"] == "1200" and after.body["currency"] == "JPY"
    assert after.body["status"] == "SETTLED"
    assert isinstance(after.body["fraud"]["score"], str)
    trail = ingest.get_audit(tid)
    assert trail.status == 200
    assert trail.body["events"][0]["action"] == "payment.received"
    assert [e["at"] for e in trail.body["events"]] == sorted(e["at"] for e in trail.body["events"])


def test_another_api_key_gets_404_for_a_recorded_payment(ingest):
    tid = ingest.post("order-6", payment()).body["transaction_id"]
    ingest.stack.poll_once("IngestConsumerFunction")

    own = ingest.get(tid)
    other = ingest.get(tid, api_key_id="key-someone-else")
    other_audit = ingest.get_audit(tid, api_key_id="key-someone-else")

    assert own.status == 200
    assert other.status == other_audit.status == 404
    assert other.body["error"]["code"] == "transaction_not_found"


def test_a_key_used_again_after_its_record_expired_is_checked_against_the_transaction(ingest):
    """Given a settled payment whose idempotency record has expired (TTL deleted it), When its key
    comes again, Then the same body replays the transaction and another body is 422; nothing queued."""
    body = payment()
    first = ingest.post("order-7", body)
    ingest.stack.poll_once("IngestConsumerFunction")
    # What the table's TTL does after a day.
    boto3.client("dynamodb", region_name=ingest.stack.region).delete_item(
        TableName=ingest.stack.outputs["IdempotencyTableName"],
        Key={"id": {"S": f"{IDEMPOTENCY_KEY_PREFIX}#{first.body['transaction_id']}"}},
    )

    again = ingest.post("order-7", body)
    other = ingest.post_batch([{"idempotency_key": "order-7", **payment(amount="3.00")}])

    assert again.status == 202 and again.body == {**first.body, "replayed": True}
    assert other.status == 207
    assert other.body["results"][0]["status"] == "rejected"
    assert other.body["results"][0]["error"]["code"] == "idempotency_key_reused"
    assert ingest.receive_all() == []
    assert ingest.transaction(first.body["transaction_id"])["status"] == "SETTLED"
