"""Shim 16: every request counted where moto dispatches it; DynamoDB units from real item sizes."""

from __future__ import annotations

import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from payctl.runtime import capacity_units, metering


def _table(client) -> str:
    name = f"metering-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    return name


def test_item_size_follows_the_documented_rules():
    # name + value: strings by UTF-8 bytes, numbers by significant digits, maps with 3 + 1 per element.
    assert capacity_units.item_size({"ab": {"S": "xyz"}}) == 5
    assert capacity_units.item_size({"n": {"N": "12345"}}) == 1 + 3 + 1
    assert capacity_units.item_size({"m": {"M": {"k": {"BOOL": True}}}}) == 1 + 3 + (1 + 1 + 1)
    assert capacity_units.write_units(1024) == 1
    assert capacity_units.write_units(1025) == 2
    assert capacity_units.read_units(10, consistent=False) == 0.5


def test_writes_pay_for_the_larger_item_indexes_and_double_for_transactions(moto_env):
    client = boto3.client("dynamodb")
    name = _table(client)
    metering.start()
    try:
        # 2 units (1.5 KB); the index gains an entry: 1.
        client.put_item(TableName=name, Item={"pk": {"S": "a"}, "g": {"S": "x"}, "v": {"S": "1" * 1500}})
        # 2 units; the keys-only index does not change: nothing.
        client.update_item(
            TableName=name,
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET w = :w",
            ExpressionAttributeValues={":w": {"S": "2"}},
        )
        # Index key changed: a delete and a put in the index, 2; the item still weighs 2.
        client.update_item(
            TableName=name,
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET g = :g",
            ExpressionAttributeValues={":g": {"S": "y"}},
        )
        # Refused: pays for the item as it stood (2), writes no index entry.
        with pytest.raises(ClientError):
            client.put_item(
                TableName=name, Item={"pk": {"S": "a"}}, ConditionExpression="attribute_not_exists(pk)"
            )
        # A transaction of one small new item: 2 units, plus its index entry: 1.
        client.transact_write_items(
            TransactItems=[{"Put": {"TableName": name, "Item": {"pk": {"S": "b"}, "g": {"S": "z"}}}}]
        )
        client.get_item(TableName=name, Key={"pk": {"S": "a"}}, ConsistentRead=True)
    finally:
        usage = metering.stop()

    assert usage.wru[(name, "table")] == 2 + 2 + 2 + 2 + 2
    assert usage.wru[(name, "by_g")] == 1 + 2 + 1
    assert usage.rru[name] == 1.0
    assert usage.requests[("dynamodb", "PutItem")] >= 2
    assert usage.errors[("dynamodb", "PutItem")] >= 1


def test_invocations_and_express_history_are_counted(fixture_stack, moto_env):
    metering.start()
    try:
        output = fixture_stack.start_sync_execution({"name": "m"}, name=f"metered-{uuid.uuid4().hex[:6]}")
    finally:
        usage = metering.stop()

    assert output["status"] == "SUCCEEDED"
    assert usage.requests[("stepfunctions", "StartSyncExecution")] == 1
    assert len(usage.express_ms) == 1
    assert sum(usage.invocations.values()) >= 1
    assert usage.history_events["ExecutionStarted"] == 1
    assert usage.history_events["ExecutionSucceeded"] == 1


def test_the_meter_counts_nothing_until_started(moto_env):
    metering.reset()
    boto3.client("sqs").list_queues()
    assert not metering.snapshot().requests


def test_requests_are_classified_by_service_and_operation():
    assert metering.classify(
        "POST", "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/fn-a/invocations", {}, b""
    ) == ("lambda", "Invoke", "fn-a")
    assert metering.classify(
        "POST",
        "https://dynamodb.us-east-1.amazonaws.com/",
        {"X-Amz-Target": "DynamoDB_20120810.PutItem"},
        b"",
    ) == ("dynamodb", "PutItem", "")
    assert metering.classify("PUT", "https://bucket.s3.amazonaws.com/archive/x.json", {}, b"")[:2] == (
        "s3",
        "PutObject",
    )
    assert metering.classify("PUT", "https://s3.amazonaws.com/bucket/archive/x.json", {}, b"")[:2] == (
        "s3",
        "PutObject",
    )
