"""Operator reads against (moto) AWS: counters per day, statuses counted, waits that read the payments."""

from __future__ import annotations

import uuid

import boto3
import pytest
from moto import mock_aws

from payctl.local.measure import NotDone, counters_over, statuses_of, wait_until_done
from payctl.tools.operator.status import audit_counters, counts_by_status

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield lambda service: boto3.client(service, region_name=REGION)


def _audit_table(dynamodb):
    """A table keyed like the audit table (pk, sk), with a unique name."""
    table = f"audit-{uuid.uuid4().hex[:10]}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return table


def test_counters_are_read_per_day_and_statuses_are_counted(aws):
    dynamodb = aws("dynamodb")
    table = _audit_table(dynamodb)
    for day, action, count in (
        ("2026-03-01", "payment.settled", 6),
        ("2026-03-01", "payment.received", 7),
        ("2026-03-02", "payment.settled", 9),
    ):
        dynamodb.put_item(
            TableName=table,
            Item={"pk": {"S": f"counter#{day}"}, "sk": {"S": action}, "count": {"N": str(count)}},
        )
    for index, status in enumerate(["SETTLED", "SETTLED", "DECLINED"]):
        dynamodb.put_item(
            TableName=table, Item={"pk": {"S": f"t{index}"}, "sk": {"S": "x"}, "status": {"S": status}}
        )

    assert audit_counters(dynamodb, table, "2026-03-01") == {"payment.received": 7, "payment.settled": 6}
    statuses = counts_by_status(dynamodb, table)
    assert statuses["SETTLED"] == 2 and statuses["DECLINED"] == 1
    dynamodb.delete_table(TableName=table)


def test_counters_over_sum_the_days_asked_for(aws):
    dynamodb = aws("dynamodb")
    table = _audit_table(dynamodb)
    written = {
        ("2026-03-01", "payment.settled"): 5,
        ("2026-03-02", "payment.failed"): 1,
        ("2026-03-03", "payment.settled"): 70,  # a day not asked for
    }
    for (day, action), count in written.items():
        dynamodb.put_item(
            TableName=table,
            Item={"pk": {"S": f"counter#{day}"}, "sk": {"S": action}, "count": {"N": str(count)}},
        )

    totals = counters_over(dynamodb, table, {"2026-03-01", "2026-03-02"})

    assert totals == {"payment.settled": 5, "payment.failed": 1}


def _transactions_table(dynamodb, statuses):
    table = f"transactions-{uuid.uuid4().hex[:10]}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "transaction_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "transaction_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for tid, status in statuses.items():
        dynamodb.put_item(TableName=table, Item={"transaction_id": {"S": tid}, "status": {"S": status}})
    return table


def test_statuses_are_read_from_the_table_a_hundred_keys_a_call(aws):
    dynamodb = aws("dynamodb")
    written = {str(uuid.uuid4()): ("SETTLED", "DECLINED", "RECEIVED")[i % 3] for i in range(250)}
    table = _transactions_table(dynamodb, written)
    missing = str(uuid.uuid4())

    assert statuses_of(dynamodb, table, [*written, missing]) == written


def test_waiting_stops_at_the_deadline_naming_what_is_open(aws):
    dynamodb, sqs = aws("dynamodb"), aws("sqs")
    done, stuck = str(uuid.uuid4()), str(uuid.uuid4())
    table = _transactions_table(dynamodb, {done: "SETTLED", stuck: "RECEIVED"})
    queue = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]

    assert wait_until_done(sqs, queue, dynamodb, table, [done], deadline=0) == {done: "SETTLED"}
    with pytest.raises(NotDone, match=f"1 of 2 payments not terminal .* first open: {stuck}"):
        wait_until_done(sqs, queue, dynamodb, table, [done, stuck], deadline=0, pause=0)
    sqs.send_message(QueueUrl=queue, MessageBody="{}")
    with pytest.raises(NotDone, match="1 messages still queued"):
        wait_until_done(sqs, queue, dynamodb, table, [done], deadline=0, pause=0)
