"""Operator reads against (moto) AWS: counters sum over shards, terminal counts batch their reads."""

from __future__ import annotations

import uuid

import boto3
import pytest
from moto import mock_aws

from payctl.local.measure import TERMINAL_ACTIONS, counters_over, terminal_counts
from payctl.operator.status import audit_counters, counts_by_status

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


def test_counters_sum_over_shards_and_statuses_are_counted(aws):
    dynamodb = aws("dynamodb")
    table = _audit_table(dynamodb)
    for shard, count in ((0, 2), (7, 3), (15, 1)):
        dynamodb.put_item(
            TableName=table,
            Item={
                "pk": {"S": f"counter#2026-03-01#{shard:02d}"},
                "sk": {"S": "payment.settled"},
                "count": {"N": str(count)},
            },
        )
    dynamodb.put_item(
        TableName=table,
        Item={"pk": {"S": "counter#2026-03-02#00"}, "sk": {"S": "payment.settled"}, "count": {"N": "9"}},
    )
    for index, status in enumerate(["SETTLED", "SETTLED", "DECLINED"]):
        dynamodb.put_item(
            TableName=table, Item={"pk": {"S": f"t{index}"}, "sk": {"S": "x"}, "status": {"S": status}}
        )

    assert audit_counters(dynamodb, table, "2026-03-01", shards=16) == {"payment.settled": 6}
    statuses = counts_by_status(dynamodb, table)
    assert statuses["SETTLED"] == 2 and statuses["DECLINED"] == 1
    dynamodb.delete_table(TableName=table)


def test_terminal_counts_batch_read_every_shard_day_and_terminal_action(aws):
    dynamodb = aws("dynamodb")
    table = _audit_table(dynamodb)
    written = {
        ("2026-03-01", 0, "payment.settled"): 2,
        ("2026-03-01", 15, "payment.settled"): 3,
        ("2026-03-01", 9, "payment.declined"): 4,
        ("2026-03-02", 3, "payment.failed"): 1,
        ("2026-03-02", 3, "payment.received"): 50,  # not terminal
        ("2026-03-03", 1, "payment.settled"): 70,  # a day not asked for
    }
    for (day, shard, action), count in written.items():
        dynamodb.put_item(
            TableName=table,
            Item={"pk": {"S": f"counter#{day}#{shard:02d}"}, "sk": {"S": action}, "count": {"N": str(count)}},
        )

    # 2 days x 16 shards x 3 actions = 96 keys, one BatchGetItem; 40 shards make 240 keys, three calls.
    counts = terminal_counts(dynamodb, table, {"2026-03-01", "2026-03-02"}, 16)
    assert counts == {"SETTLED": 5, "DECLINED": 4, "FAILED": 1}
    assert terminal_counts(dynamodb, table, {"2026-03-01", "2026-03-02"}, 40) == counts
    totals = counters_over(dynamodb, table, {"2026-03-01", "2026-03-02"}, 16)
    assert {TERMINAL_ACTIONS[a]: totals[a] for a in TERMINAL_ACTIONS} == counts
