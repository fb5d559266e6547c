"""DLQ operations on (moto) AWS: reads that consume nothing, filtered replays, drops, audit rows."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import boto3
import pytest
from moto import mock_aws

from payctl.tools.connection import Connection
from payctl.tools.operator.dlq import Dlq, Selection

REGION = "us-east-1"


def tid(name: str) -> str:
    """A transaction id (a UUID, as the audit index's sharding needs) named for the test."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def _table(dynamodb, *keys):
    name = f"t-{uuid.uuid4().hex[:10]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in zip(keys, ("HASH", "RANGE"), strict=False)],
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


@pytest.fixture
def stack(monkeypatch):
    """The resources the DLQ tools read, named as the stack's outputs name them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dlq_url = sqs.create_queue(QueueName="payments-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
        url = sqs.create_queue(QueueName="payments", Attributes={"RedrivePolicy": policy})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        outputs = {
            "PaymentsQueueUrl": url,
            "PaymentsQueueArn": arn,
            "PaymentsDLQUrl": dlq_url,
            "PaymentsDLQArn": dlq_arn,
            "AuditTableName": _table(dynamodb, "pk", "sk"),
            "TransactionsTableName": _table(dynamodb, "transaction_id"),
        }
        yield Connection(region=REGION, outputs=outputs), sqs, dynamodb


def _dead_letter(
    stack, transaction_id, *, merchant="m_1", currency="USD", status=None, failure=None, finished=True
):
    """A DLQ message; ``status`` on its transaction, with its final step's last row if ``finished``."""
    connection, sqs, dynamodb = stack
    body = {
        "transaction_id": transaction_id,
        "submitter": "key-1",
        "idempotency_key": f"k-{transaction_id}",
        "payment": {"merchant_id": merchant, "amount": "12.34", "currency": currency},
    }
    sqs.send_message(
        QueueUrl=connection.outputs["PaymentsDLQUrl"],
        MessageBody=json.dumps(body),
        MessageAttributes={
            "transaction_id": {"DataType": "String", "StringValue": transaction_id},
            "submitter": {"DataType": "String", "StringValue": "key-1"},
        },
    )
    if status:
        dynamodb.put_item(
            TableName=connection.outputs["TransactionsTableName"],
            Item={"transaction_id": {"S": transaction_id}, "status": {"S": status}},
        )
    if status in ("SETTLED", "DECLINED") and finished:
        event = "settled" if status == "SETTLED" else "declined"
        dynamodb.put_item(
            TableName=connection.outputs["AuditTableName"],
            Item={
                "pk": {"S": transaction_id},
                "sk": {"S": f"settlement#{event}"},
                "action": {"S": f"payment.{event}"},
            },
        )
    if failure:
        dynamodb.put_item(
            TableName=connection.outputs["AuditTableName"],
            Item={
                "pk": {"S": transaction_id},
                "sk": {"S": "settlement#failed#a1"},
                "action": {"S": "payment.failed"},
                "at": {"S": "2026-03-01T00:00:00.000000Z"},
                "detail": {"M": {"error": {"S": failure}, "cause": {"S": "the validation branch errored"}}},
            },
        )
    return body


def _messages(sqs, url):
    found = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=30
    ).get("Messages", []):
        found.extend(batch)
    return found


def _operator_rows(stack, transaction_id):
    connection, _, dynamodb = stack
    rows = dynamodb.query(
        TableName=connection.outputs["AuditTableName"],
        KeyConditionExpression="pk = :pk AND begins_with(sk, :op)",
        ExpressionAttributeValues={":pk": {"S": transaction_id}, ":op": {"S": "operator#"}},
    )["Items"]
    return rows


def test_reading_consumes_nothing_and_shows_why_each_message_failed(stack):
    connection, sqs, _ = stack
    _dead_letter(stack, tid("t-1"), failure="Lambda.ServiceException", status="FAILED")
    _dead_letter(stack, tid("t-2"), merchant="m_2")
    dlq = Dlq(connection)

    first = dlq.read()
    second = dlq.read()

    assert {m.message_id for m in first} == {m.message_id for m in second}
    by_id = {m.transaction_id: m for m in second}
    assert by_id[tid("t-1")].failure_reason == "Lambda.ServiceException: the validation branch errored"
    assert by_id[tid("t-1")].payment_status == "FAILED" and by_id[tid("t-2")].payment_status is None
    assert by_id[tid("t-2")].merchant_id == "m_2"
    assert by_id[tid("t-1")].attributes == {"transaction_id": tid("t-1"), "submitter": "key-1"}
    # Two reads raised SQS's count to 2; at most one of them can be the source queue's.
    assert by_id[tid("t-1")].receive_count == 2 and by_id[tid("t-1")].source_receive_count == 1
    depth = sqs.get_queue_attributes(QueueUrl=connection.outputs["PaymentsDLQUrl"], AttributeNames=["All"])
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "2"


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (Selection(reason="serviceexception"), {tid("t-1")}),
        (Selection(merchant_id="m_2"), {tid("t-2")}),
        (Selection(where="payment.currency == 'EUR'"), {tid("t-3")}),
        (Selection(transaction_ids=frozenset({tid("t-1"), tid("t-3")})), {tid("t-1"), tid("t-3")}),
        (Selection(older_than=timedelta(hours=1)), set()),
        (Selection(newer_than=timedelta(hours=1)), {tid("t-1"), tid("t-2"), tid("t-3")}),
        (Selection(complete=True), {tid("t-2")}),
    ],
)
def test_filters_select_by_reason_merchant_body_id_age_and_completion(stack, selection, expected):
    _dead_letter(stack, tid("t-1"), failure="Lambda.ServiceException")
    _dead_letter(stack, tid("t-2"), merchant="m_2", status="SETTLED")
    _dead_letter(stack, tid("t-3"), currency="EUR")

    assert {m.transaction_id for m in Dlq(stack[0]).read(selection=selection)} == expected


def test_a_replay_moves_exactly_the_selection_intact_and_audits_each_message(stack):
    connection, sqs, _ = stack
    bodies = {
        tid: _dead_letter(stack, tid, merchant=merchant)
        for tid, merchant in ((tid("t-1"), "m_a"), (tid("t-2"), "m_b"), (tid("t-3"), "m_a"))
    }
    dlq = Dlq(connection)

    report = dlq.replay(Selection(merchant_id="m_a"), operator="alice")

    moved = _messages(sqs, connection.outputs["PaymentsQueueUrl"])
    assert sorted(json.loads(m["Body"])["transaction_id"] for m in moved) == [tid("t-1"), tid("t-3")]
    for message in moved:
        transaction = json.loads(message["Body"])["transaction_id"]
        assert json.loads(message["Body"]) == bodies[transaction]
        assert {k: v["StringValue"] for k, v in message["MessageAttributes"].items()} == {
            "transaction_id": transaction,
            "submitter": "key-1",
        }
    assert [m.transaction_id for m in dlq.read()] == [tid("t-2")]
    new_ids = {m.transaction_id: new for m, new in report.moved}
    for transaction in (tid("t-1"), tid("t-3")):
        (row,) = _operator_rows(stack, transaction)
        detail = row["detail"]["M"]
        assert row["action"]["S"] == "operator.dlq_replayed" and row["actor"]["S"] == "operator:alice"
        assert detail["new_message_id"]["S"] == new_ids[transaction]
        assert detail["old_message_id"]["S"] != new_ids[transaction]
    assert _operator_rows(stack, tid("t-2")) == []


def test_a_complete_payment_is_reported_not_replayed_and_max_bounds_the_rest(stack):
    connection, sqs, _ = stack
    _dead_letter(stack, tid("t-done"), status="SETTLED")
    for index in range(3):
        _dead_letter(stack, tid(f"t-{index}"), status="FAILED")

    report = Dlq(connection).replay(Selection(), operator="bob", limit=2)

    assert [m.transaction_id for m in report.complete] == [tid("t-done")]
    assert len(report.moved) == 2
    assert len(_messages(sqs, connection.outputs["PaymentsQueueUrl"])) == 2


def test_a_final_status_is_complete_before_its_stream_effects_follow_and_is_not_replayed(stack):
    """SETTLED whose audit rows the trail has not written yet: the final write is the workflow's
    last, what follows it the stream delivers, so a replay would add nothing."""
    connection, sqs, _ = stack
    _dead_letter(stack, tid("t-final"), status="SETTLED", finished=False)

    assert [m.transaction_id for m in Dlq(connection).read(selection=Selection(complete=True))] == [
        tid("t-final")
    ]
    report = Dlq(connection).replay(Selection(), operator="erin")

    assert [m.transaction_id for m in report.complete] == [tid("t-final")] and report.moved == []
    assert _messages(sqs, connection.outputs["PaymentsQueueUrl"]) == []


def test_a_refused_confirmation_or_a_failed_send_leaves_the_messages_in_the_dlq(stack):
    connection, sqs, _ = stack
    _dead_letter(stack, tid("t-1"))
    _dead_letter(stack, tid("t-2"))
    dlq = Dlq(connection)

    refused = dlq.replay(Selection(), operator="carol", confirm=lambda messages: False)
    assert refused.moved == [] and len(dlq.read()) == 2

    sqs.delete_queue(QueueUrl=connection.outputs["PaymentsQueueUrl"])
    failed = dlq.replay(Selection(), operator="carol")
    assert failed.moved == [] and len(failed.failed) == 2
    assert len(dlq.read()) == 2
    assert _operator_rows(stack, tid("t-1")) == []


def test_a_drop_deletes_for_good_and_leaves_an_audit_row(stack):
    connection, _, _ = stack
    _dead_letter(stack, tid("t-1"), status="DECLINED")
    _dead_letter(stack, tid("t-2"))
    dlq = Dlq(connection)

    dropped = dlq.drop(Selection(complete=True), operator="dave")

    assert [m.transaction_id for m in dropped] == [tid("t-1")]
    assert [m.transaction_id for m in dlq.read()] == [tid("t-2")]
    (row,) = _operator_rows(stack, tid("t-1"))
    assert row["action"]["S"] == "operator.dlq_dropped"
    assert row["detail"]["M"]["operator"]["S"] == "dave"
