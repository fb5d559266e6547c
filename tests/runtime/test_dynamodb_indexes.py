"""Index views: a query on an index gives moto's own pages, page by page, while every kind of write
moves items in and out of the index, and it reads O(limit) items instead of the whole table."""

import contextlib
import random
import uuid

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.table import Table

from payctl.runtime import dynamodb as dynamodb_shim
from payctl.runtime._patching import Patcher

COMPARISONS = ["=", "<", "<=", ">", ">=", "BETWEEN", "begins_with"]


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        patcher = Patcher()
        dynamodb_shim.install(patcher)
        dynamodb_shim.install_speedups(patcher)
        try:
            yield boto3.client("dynamodb", region_name="us-east-1")
        finally:
            patcher.undo_all()


def _create(client, name, sort_type):
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
            {"AttributeName": "at", "AttributeType": sort_type},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_g",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "by_g_only",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )


class Workload:
    """Random writes of every kind moto has, and random index queries, over one small key space."""

    def __init__(self, client, table, sort_type, seed):
        self.client, self.table, self.sort_type = client, table, sort_type
        self.rng = random.Random(seed)

    def sort_value(self):
        # Few distinct values, so index sort keys tie and the table's keys decide the order.
        if self.sort_type == "N":
            return {"N": str(self.rng.choice([-3, 0, 2, 2.5, 10, 11, 100]))}
        return {"S": self.rng.choice(["a", "ab", "abc", "b", "ba", "c", "d1", "d2"])}

    def key(self):
        return {"pk": {"S": f"p{self.rng.randrange(5)}"}, "sk": {"S": f"s{self.rng.randrange(8)}"}}

    def item(self):
        item = {
            **self.key(),
            "g": {"S": f"g{self.rng.randrange(3)}"},
            "filler": {"S": "x" * self.rng.randrange(40)},
        }
        if self.rng.random() < 0.85:
            item["at"] = self.sort_value()
        return item

    def write(self):
        kind = self.rng.choice(
            ["put", "put", "update", "remove", "delete", "transact", "batch", "conditional"]
        )
        client, table = self.client, self.table
        if kind == "put":
            client.put_item(TableName=table, Item=self.item())
        elif kind == "update":
            client.update_item(
                TableName=table,
                Key=self.key(),
                UpdateExpression="SET g = :g, #at = :at, filler = if_not_exists(filler, :f)",
                ExpressionAttributeNames={"#at": "at"},
                ExpressionAttributeValues={
                    ":g": {"S": f"g{self.rng.randrange(3)}"},
                    ":at": self.sort_value(),
                    ":f": {"S": "xxxxxxxxxxxxxxxxxxxx"},
                },
            )
        elif kind == "remove":
            client.update_item(
                TableName=table,
                Key=self.key(),
                UpdateExpression="REMOVE #at SET filler = if_not_exists(filler, :f)",
                ExpressionAttributeNames={"#at": "at"},
                ExpressionAttributeValues={":f": {"S": ""}},
            )
        elif kind == "delete":
            client.delete_item(TableName=table, Key=self.key())
        elif kind == "transact":
            first = self.item()
            second = {**self.item(), "pk": {"S": "tx"}}
            client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": first}},
                    {"Put": {"TableName": table, "Item": second}},
                ]
            )
        elif kind == "batch":
            items = {str(item["pk"]) + str(item["sk"]): item for item in (self.item() for _ in range(4))}
            client.batch_write_item(
                RequestItems={table: [{"PutRequest": {"Item": item}} for item in items.values()]}
            )
        else:
            with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
                client.put_item(
                    TableName=table, Item=self.item(), ConditionExpression="attribute_not_exists(pk)"
                )

    def query(self):
        query = {
            "TableName": self.table,
            "IndexName": "by_g",
            "KeyConditionExpression": "g = :g",
            "ExpressionAttributeValues": {":g": {"S": f"g{self.rng.randrange(4)}"}},
            "ScanIndexForward": self.rng.random() < 0.5,
        }
        if self.rng.random() < 0.2:
            query["IndexName"] = "by_g_only"
        elif self.rng.random() < 0.8:
            self._range_condition(query)
        if self.rng.random() < 0.7:
            query["Limit"] = self.rng.choice([1, 2, 3, 7])
        if self.rng.random() < 0.2 and query["IndexName"] == "by_g":  # only there is the filler projected
            query["FilterExpression"] = "size(filler) > :n"
            query["ExpressionAttributeValues"][":n"] = {"N": "10"}
        return query

    def _range_condition(self, query):
        comparison = self.rng.choice(COMPARISONS if self.sort_type == "S" else COMPARISONS[:-1])
        query["ExpressionAttributeNames"] = {"#at": "at"}
        values = query["ExpressionAttributeValues"]
        values[":a"] = self.sort_value()
        if comparison == "BETWEEN":
            values[":b"] = self.sort_value()
            low, high = sorted([values[":a"], values[":b"]], key=_cast)
            values[":a"], values[":b"] = low, high
            query["KeyConditionExpression"] += " AND #at BETWEEN :a AND :b"
        elif comparison == "begins_with":
            query["KeyConditionExpression"] += " AND begins_with(#at, :a)"
        else:
            query["KeyConditionExpression"] += f" AND #at {comparison} :a"


def _cast(value):
    from decimal import Decimal

    return Decimal(value["N"]) if "N" in value else value["S"]


def _pages(client, query):
    pages, start = [], None
    for _ in range(200):
        page = client.query(**query, **({"ExclusiveStartKey": start} if start else {}))
        pages.append((page["Items"], page.get("LastEvaluatedKey"), page["Count"]))
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages
    raise AssertionError("a query never reached its last page")


def _stock_pages(client, query, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(Table, "query", Table.query.__wrapped__)
        return _pages(client, query)


@pytest.mark.parametrize(("sort_type", "seed"), [("S", 1), ("N", 3)])
def test_index_queries_give_moto_s_own_pages_while_every_kind_of_write_moves_items(
    client, monkeypatch, sort_type, seed
):
    table = f"views-{uuid.uuid4().hex[:8]}"
    _create(client, table, sort_type)
    workload = Workload(client, table, sort_type, seed)
    compared = 0
    for step in range(240):
        workload.write()
        if step % 4 == 0:
            query = workload.query()
            assert _pages(client, query) == _stock_pages(client, query, monkeypatch), query
            compared += 1
    assert compared == 60


def test_changing_a_table_s_indexes_builds_its_view_again(client, monkeypatch):
    table = f"views-{uuid.uuid4().hex[:8]}"
    _create(client, table, "S")
    workload = Workload(client, table, "S", 5)
    for _ in range(60):
        workload.write()
    query = {
        "TableName": table,
        "IndexName": "by_g",
        "KeyConditionExpression": "g = :g",
        "ExpressionAttributeValues": {":g": {"S": "g1"}},
    }
    _pages(client, query)

    client.update_table(TableName=table, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by_g_only"}}])
    for _ in range(60):
        workload.write()

    assert _pages(client, query) == _stock_pages(client, query, monkeypatch)


def test_a_page_reads_only_what_it_can_return(client, monkeypatch):
    """With 3,000 rows in one index partition, a page of 5 hands moto at most 6 items to sort."""
    table = f"views-{uuid.uuid4().hex[:8]}"
    _create(client, table, "S")
    for start in range(0, 3000, 25):
        client.batch_write_item(
            RequestItems={
                table: [
                    {
                        "PutRequest": {
                            "Item": {
                                "pk": {"S": f"p{n}"},
                                "sk": {"S": "s"},
                                "g": {"S": "g"},
                                "at": {"S": f"{n:05d}"},
                            }
                        }
                    }
                    for n in range(start, start + 25)
                ]
            }
        )
    handed = []
    original_sort = Table.sorted_items
    monkeypatch.setattr(
        Table,
        "sorted_items",
        lambda self, h, r, items: handed.append(len(items)) or original_sort(self, h, r, items),
    )
    query = {
        "TableName": table,
        "IndexName": "by_g",
        "KeyConditionExpression": "g = :g AND #at BETWEEN :a AND :b",
        "ExpressionAttributeNames": {"#at": "at"},
        "ExpressionAttributeValues": {":g": {"S": "g"}, ":a": {"S": "01000"}, ":b": {"S": "02000"}},
        "ScanIndexForward": False,
        "Limit": 5,
    }

    first = client.query(**query)
    second = client.query(**query, ExclusiveStartKey=first["LastEvaluatedKey"])

    assert [row["at"]["S"] for row in first["Items"] + second["Items"]] == [
        f"{n:05d}" for n in range(2000, 1990, -1)
    ]
    assert handed == [6, 6]


def test_a_table_whose_item_store_is_replaced_is_viewed_afresh(client, monkeypatch):
    """A restored local state swaps a table's whole item store; the next query sees the new items."""
    from moto.dynamodb.models import dynamodb_backends

    first, second = f"views-{uuid.uuid4().hex[:8]}", f"views-{uuid.uuid4().hex[:8]}"
    _create(client, first, "S")
    _create(client, second, "S")
    Workload(client, second, "S", 6).write()
    for n in range(5):
        client.put_item(
            TableName=first, Item={"pk": {"S": f"p{n}"}, "sk": {"S": "s"}, "g": {"S": "g"}, "at": {"S": "a"}}
        )
    query = {
        "TableName": second,
        "IndexName": "by_g",
        "KeyConditionExpression": "g = :g",
        "ExpressionAttributeValues": {":g": {"S": "g"}},
    }
    assert _pages(client, query)[0][0] == []

    backend = dynamodb_backends["123456789012"]["us-east-1"]
    backend.tables[second].items = backend.tables[first].items

    assert len(_pages(client, query)[0][0]) == 5
    assert _pages(client, query) == _stock_pages(client, query, monkeypatch)
