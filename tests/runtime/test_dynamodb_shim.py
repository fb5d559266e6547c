"""moto's DynamoDB backend, serialised per request, survives the local stack's concurrency."""

import threading
import uuid

import boto3
import pytest
from moto import mock_aws

from payctl.local import moto_locks
from payctl.runtime._patching import Patcher


@pytest.fixture
def dynamodb(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        table = f"locks-{uuid.uuid4().hex[:8]}"
        client.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client, table
        client.delete_table(TableName=table)


def _hammer(client, table, worker, errors):
    try:
        for index in range(25):
            key = f"{worker}-{index}"
            client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": table,
                            "Item": {"pk": {"S": f"row#{key}"}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": table,
                            "Key": {"pk": {"S": f"counter#{worker % 2}"}},
                            "UpdateExpression": "ADD #count :one",
                            "ExpressionAttributeNames": {"#count": "count"},
                            "ExpressionAttributeValues": {":one": {"N": "1"}},
                        }
                    },
                ]
            )
            client.put_item(TableName=table, Item={"pk": {"S": f"plain#{key}"}})
    except Exception as exc:  # collected and asserted on below
        errors.append(exc)


def test_concurrent_transactions_and_puts_all_succeed_with_the_lock(dynamodb):
    client, table = dynamodb
    patcher = Patcher()
    moto_locks.install(patcher)
    errors = []
    try:
        threads = [threading.Thread(target=_hammer, args=(client, table, n, errors)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        patcher.undo_all()

    assert errors == []
    counters = [client.get_item(TableName=table, Key={"pk": {"S": f"counter#{n}"}})["Item"] for n in (0, 1)]
    assert sum(int(item["count"]["N"]) for item in counters) == 4 * 25


def test_the_lock_is_removed_again():
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    patcher = Patcher()
    moto_locks.install(patcher)
    assert DynamoHandler.call_action is not original
    patcher.undo_all()

    assert DynamoHandler.call_action is original
