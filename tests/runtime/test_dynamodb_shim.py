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


UPDATES = [
    ("SET #s = :s, updated_at = :u", {"#s": "status"}, {":s": {"S": "SETTLED"}, ":u": {"S": "2026-01-01"}}),
    (
        "ADD #count :one SET #day = :day",
        {"#count": "count", "#day": "day"},
        {":one": {"N": "1"}, ":day": {"S": "d"}},
    ),
    (
        "SET tags = list_append(if_not_exists(tags, :empty), :tag)",
        None,
        {":empty": {"L": []}, ":tag": {"L": [{"S": "x"}]}},
    ),
    ("SET n = if_not_exists(n, :zero) + :two REMOVE gone", None, {":zero": {"N": "0"}, ":two": {"N": "2"}}),
    ("SET m.#in = :v, #s = :s", {"#s": "status", "#in": "inner"}, {":v": {"N": "3.50"}, ":s": {"S": "NEW"}}),
]


def _apply_updates(client, table):
    """Each update twice on two items (so a cached tree is reused, and reused after a mutation)."""
    outcomes = []
    client.put_item(TableName=table, Item={"pk": {"S": "a"}, "gone": {"S": "x"}, "m": {"M": {}}})
    client.put_item(TableName=table, Item={"pk": {"S": "b"}, "m": {"M": {"inner": {"N": "1"}}}})
    for _ in range(2):
        for key in ("a", "b"):
            for expression, names, values in UPDATES:
                kwargs = {"ExpressionAttributeNames": names} if names else {}
                response = client.update_item(
                    TableName=table,
                    Key={"pk": {"S": key}},
                    UpdateExpression=expression,
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                    **kwargs,
                )
                outcomes.append(response["Attributes"])
    with pytest.raises(client.exceptions.ClientError, match="Invalid UpdateExpression"):
        client.update_item(TableName=table, Key={"pk": {"S": "a"}}, UpdateExpression="SET = :x")
    return outcomes


def test_update_expressions_give_stock_results_with_the_parse_cache(dynamodb):
    """The same updates, applied to fresh tables with and without the speed-ups, leave the same
    items; a reused parse tree is never one a previous update rewrote."""
    client, _ = dynamodb
    stock_table, fast_table = (f"u-{uuid.uuid4().hex[:8]}" for _ in range(2))
    for table in (stock_table, fast_table):
        client.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    stock = _apply_updates(client, stock_table)

    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    patcher = Patcher()
    dynamodb_shim.install_speedups(patcher)
    try:
        assert validators.deepcopy is dynamodb_shim.tree_copy
        fast = _apply_updates(client, fast_table)
        info = UpdateExpressionParser.make.cache_info()
    finally:
        patcher.undo_all()

    assert fast == stock
    assert info.misses == len(UPDATES) + 1  # one parse per distinct text (and the invalid one)
    assert info.hits >= 3 * len(UPDATES)
    import copy

    assert validators.deepcopy is copy.deepcopy
    assert not hasattr(UpdateExpressionParser.make, "cache_info")


def _shape(node):
    from moto.dynamodb.parsing.ast_nodes import Node

    if not isinstance(node, Node):
        return node
    return type(node).__name__, [_shape(child) for child in node.children or []]


def test_tree_copy_is_a_deep_copy():
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    tree = UpdateExpressionParser.make("SET a = :x, b.c = list_append(b.c, :y) REMOVE d")
    copied = dynamodb_shim.tree_copy(tree)
    assert _shape(copied) == _shape(tree)
    assert copied is not tree and copied.children[0] is not tree.children[0]
    value = DynamoType({"L": [{"S": "x"}]})
    copied_value = dynamodb_shim.tree_copy(value)
    assert copied_value == value and copied_value.value is not value.value


def _send_everything(sqs):
    """Sends to a standard queue, a FIFO queue with content-based deduplication and one without."""
    standard = sqs.create_queue(QueueName="plain")["QueueUrl"]
    deduplicated = sqs.create_queue(
        QueueName="dedup.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    explicit = sqs.create_queue(QueueName="explicit.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    sqs.send_message_batch(
        QueueUrl=standard, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(4)]
    )
    for body in ["a", "a", "b"]:  # the second "a" is a duplicate
        sqs.send_message(QueueUrl=deduplicated, MessageBody=body, MessageGroupId="g")
    errors = []
    try:  # neither content-based deduplication nor a deduplication id: rejected
        sqs.send_message(QueueUrl=explicit, MessageBody="x", MessageGroupId="g")
    except sqs.exceptions.ClientError as exc:
        errors.append(exc.response["Error"]["Code"])
    sqs.send_message(QueueUrl=explicit, MessageBody="y", MessageGroupId="g", MessageDeduplicationId="d1")
    received = {}
    for name, url in [("plain", standard), ("dedup", deduplicated), ("explicit", explicit)]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        received[name] = sorted(message["Body"] for message in messages)
        received[f"{name}-attributes"] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
            "Attributes"
        ]["ApproximateNumberOfMessagesNotVisible"]
    return received, errors


def test_sqs_send_gives_stock_answers_without_building_queue_attributes(monkeypatch):
    """Shim 14: a send reads ContentBasedDeduplication without walking the queue's messages."""
    from moto.sqs.models import Queue

    from payctl.runtime import sqs_backend

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        stock = _send_everything(boto3.client("sqs", region_name="us-east-1"))
    counted = []
    real = Queue.approximate_number_of_messages_not_visible
    monkeypatch.setattr(
        Queue,
        "approximate_number_of_messages_not_visible",
        property(lambda q: counted.append(1) or real.fget(q)),
    )
    patcher = Patcher()
    sqs_backend.install(patcher)
    try:
        with mock_aws():
            sqs = boto3.client("sqs", region_name="us-east-1")
            shimmed = _send_everything(sqs)
            assert sqs_backend._sending.active is False
    finally:
        patcher.undo_all()

    assert shimmed == stock
    assert stock[0]["dedup"] == ["a", "b"] and stock[1] == ["InvalidParameterValue"]
    assert len(counted) == 3  # only the three GetQueueAttributes calls walked the messages


RICH_ITEM = {
    "pk": {"S": "rich"},
    "text": {"S": "naïve — ✓"},
    "empty": {"S": ""},
    "amount": {"N": "12.30"},
    "flag": {"BOOL": False},
    "nothing": {"NULL": True},
    "names": {"SS": ["a", "b"]},
    "numbers": {"NS": ["1", "2.5"]},
    "blob": {"B": b"\x00\x01binary"},
    "blobs": {"BS": [b"x", b"y"]},
    "list": {"L": [{"S": "x"}, {"N": "1"}, {"M": {"inner": {"B": b"\xff"}}}, {"L": []}]},
    "map": {"M": {"a": {"M": {"b": {"L": [{"BOOL": True}, {"NULL": True}]}}}, "n": {"N": "-0.5"}}},
}


def _every_read(client, table):
    key = {"pk": {"S": "rich"}}
    return [
        client.get_item(TableName=table, Key=key)["Item"],
        client.query(
            TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": key["pk"]}
        )["Items"],
        client.scan(TableName=table)["Items"],
        client.batch_get_item(RequestItems={table: {"Keys": [key]}})["Responses"][table],
        client.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": key}}])["Responses"],
        client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET flag = :f",
            ExpressionAttributeValues={":f": {"BOOL": False}},
            ReturnValues="ALL_NEW",
        )["Attributes"],
    ]


def test_every_attribute_type_reads_back_as_stock_moto_serializes_it(dynamodb):
    """The serializer's pass-through for attribute values gives byte-for-byte moto's answers,
    binary values (which moto base64-encodes) included."""
    client, table = dynamodb
    client.put_item(TableName=table, Item=RICH_ITEM)
    stock = _every_read(client, table)

    patcher = Patcher()
    dynamodb_shim.install_speedups(patcher)
    try:
        shimmed = _every_read(client, table)
    finally:
        patcher.undo_all()

    assert shimmed == stock
    assert stock[0]["blob"] == {"B": b"\x00\x01binary"}


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ({"S": "x"}, True),
        ({"N": "1"}, True),
        ({"M": {"a": {"L": [{"SS": ["x"]}]}}}, True),
        ({"B": "AAE="}, False),
        ({"M": {"a": {"BS": ["AAE="]}}}, False),
        ({"S": "x", "N": "1"}, False),
        ({"N": 1}, False),
    ],
)
def test_only_values_without_binary_pass_through(value, plain):
    assert dynamodb_shim.is_plain_attribute_value(value) is plain
