"""Shim 11: moto's DynamoDB, serialised per request and with linear transactions, survives concurrency."""

import threading
import uuid

import boto3
import pytest
from moto import mock_aws

from payctl.runtime import dynamodb as dynamodb_shim
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
    dynamodb_shim.install(patcher)
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


def test_the_shim_is_removed_again():
    from moto.dynamodb.responses import DynamoHandler

    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoHandler.call_action, DynamoDBBackend.transact_write_items
    patcher = Patcher()
    dynamodb_shim.install(patcher)
    assert (DynamoHandler.call_action, DynamoDBBackend.transact_write_items) != original
    patcher.undo_all()

    assert (DynamoHandler.call_action, DynamoDBBackend.transact_write_items) == original


def _backend():
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]


def _row_and_counter(table, row):
    return [
        {
            "Put": {
                "TableName": table,
                "Item": {"pk": {"S": row}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        {
            "Update": {
                "TableName": table,
                "Key": {"pk": {"S": "counter"}},
                "UpdateExpression": "ADD #count :one",
                "ExpressionAttributeNames": {"#count": "count"},
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
    ]


def test_a_failed_condition_cancels_the_whole_transaction_and_keeps_the_table_object(dynamodb):
    """Given a row that exists, when the row+counter transaction runs again, nothing is written,
    the reasons name the failed item, and the live table is not swapped for a stale copy."""
    client, table = dynamodb
    patcher = Patcher()
    dynamodb_shim.install(patcher)
    try:
        client.transact_write_items(TransactItems=_row_and_counter(table, "row#1"))
        live_table = _backend().tables[table]

        with pytest.raises(client.exceptions.TransactionCanceledException) as raised:
            client.transact_write_items(TransactItems=_row_and_counter(table, "row#1"))

        codes = [reason["Code"] for reason in raised.value.response["CancellationReasons"]]
        assert codes == ["ConditionalCheckFailed", "None"]
        assert _backend().tables[table] is live_table
        counter = client.get_item(TableName=table, Key={"pk": {"S": "counter"}})["Item"]
        assert counter["count"]["N"] == "1"
    finally:
        patcher.undo_all()


def test_transactions_never_copy_the_table(dynamodb, monkeypatch):
    """moto's own transact_write_items deep-copies every table it touches (O(table size) per call)."""
    import copy

    client, table = dynamodb
    for index in range(50):
        client.put_item(TableName=table, Item={"pk": {"S": f"filler#{index}"}})
    copied = []
    real_deepcopy = copy.deepcopy
    monkeypatch.setattr(
        copy, "deepcopy", lambda value, *a: copied.append(type(value).__name__) or real_deepcopy(value, *a)
    )
    patcher = Patcher()
    dynamodb_shim.install(patcher)
    try:
        client.transact_write_items(TransactItems=_row_and_counter(table, "row#2"))
    finally:
        patcher.undo_all()

    assert "Table" not in copied
