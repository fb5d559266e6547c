"""Shim 13: moto's DynamoDB, serialised per request and with linear transactions, survives concurrency."""

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
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

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


def _indexed_table(client, table):
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
            {"AttributeName": "at", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_g",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for p in range(6):
        for s in range(7):
            client.put_item(
                TableName=table,
                Item={
                    "pk": {"S": f"p{p}"},
                    "sk": {"S": f"s{6 - s}"},
                    "g": {"S": f"g{(p + s) % 3}"},
                    "at": {"S": f"2026-01-0{1 + (p * s) % 9}T{s:02d}"},
                },
            )


def _all_pages(client, **kwargs):
    pages, start = [], None
    while True:
        page = client.query(**kwargs, **({"ExclusiveStartKey": start} if start else {}))
        pages.append(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages


QUERIES = [
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p3"}}},
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p3"}}, "Limit": 3},
    {
        "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
        "ExpressionAttributeValues": {":p": {"S": "p1"}, ":a": {"S": "s2"}, ":b": {"S": "s5"}},
        "ScanIndexForward": False,
    },
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "absent"}}},
    {
        "IndexName": "by_g",
        "KeyConditionExpression": "g = :g",
        "ExpressionAttributeValues": {":g": {"S": "g1"}},
    },
    {
        "IndexName": "by_g",
        "KeyConditionExpression": "g = :g AND #at >= :t",
        "ExpressionAttributeNames": {"#at": "at"},
        "ExpressionAttributeValues": {":g": {"S": "g2"}, ":t": {"S": "2026-01-03"}},
        "Limit": 4,
    },
]


@pytest.mark.parametrize("query", QUERIES)
def test_queries_return_what_stock_moto_returns_page_by_page(dynamodb, query):
    """Given the same table, every query (table and index, ranges, pages, reverse) gives the same pages
    with the shim as without it: the shim changes where moto starts looking, not what it answers."""
    client, _ = dynamodb
    table = f"q-{uuid.uuid4().hex[:8]}"
    _indexed_table(client, table)
    stock = _all_pages(client, TableName=table, **query)

    patcher = Patcher()
    dynamodb_shim.install(patcher)
    dynamodb_shim.install_speedups(patcher)
    try:
        shimmed = _all_pages(client, TableName=table, **query)
    finally:
        patcher.undo_all()

    assert shimmed == stock


def test_sqs_retention_check_gives_stock_answers_without_building_queue_attributes(monkeypatch):
    """Shim 14: receiving from a backlog no longer builds every queue attribute per message."""
    from moto.sqs.models import Queue

    from payctl.runtime import sqs_backend

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="backlog", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(10)]
        )
        built = []
        real = Queue.attributes
        monkeypatch.setattr(Queue, "attributes", property(lambda q: built.append(1) or real.fget(q)))
        patcher = Patcher()
        sqs_backend.install(patcher)
        try:
            received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        finally:
            patcher.undo_all()

    assert sorted(int(m["Body"]) for m in received) == list(range(10))
    assert built == []
