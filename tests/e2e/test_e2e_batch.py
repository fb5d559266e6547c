"""A 500-item batch over HTTP: per-item results, only the valid items enqueued, all of them finished."""

from __future__ import annotations

import uuid

from boto3.dynamodb.types import TypeDeserializer

from payctl.local.measure import statuses_of
from payctl.tools.submitter.send import MAX_BATCH_ITEMS

# Items the API itself must reject, each for a different reason.
INVALID = {
    7: {"amount": "-5.00"},
    42: {"currency": "XXX"},
    99: {"amount": "1.234"},  # three decimals in USD
    150: {"metadata": {"note": "card 4111 1111 1111 1111"}},  # a PAN
    333: {"payment_method": {"type": "card", "token": "tok_x", "last4": "12", "brand": "visa"}},
    499: {"merchant_id": ""},
}


def _items(payment, merchant_id):
    items = []
    for index in range(MAX_BATCH_ITEMS):
        item = payment(merchant_id=merchant_id, amount=f"{10 + index % 50}.{index % 100:02d}")
        item.update(INVALID.get(index, {}))
        items.append({"idempotency_key": f"batch-{merchant_id}-{index}", **item})
    return items


def _statuses_of_merchant(dynamodb, table, merchant_id):
    deserialize = TypeDeserializer().deserialize
    found = {}
    # No index serves merchant listings (nothing in the product reads them); a test can scan.
    paginator = dynamodb.get_paginator("scan")
    for page in paginator.paginate(
        TableName=table,
        FilterExpression="merchant_id = :m",
        ExpressionAttributeValues={":m": {"S": merchant_id}},
    ):
        for item in page["Items"]:
            row = {key: deserialize(value) for key, value in item.items()}
            found[row["transaction_id"]] = row["status"]
    return found


def test_a_batch_of_500_with_invalid_items(api, payment, local_stack, aws, wait):
    merchant_id = f"m_b{uuid.uuid4().hex[:10]}"
    items = _items(payment, merchant_id)

    response = api.post("/payments/batch", {"payments": items})

    assert response.status == 207
    body = response.json()
    results = body["results"]
    assert [result["index"] for result in results] == list(range(MAX_BATCH_ITEMS))
    assert [result["idempotency_key"] for result in results] == [item["idempotency_key"] for item in items]
    rejected = {result["index"] for result in results if result["status"] == "rejected"}
    assert rejected == set(INVALID)
    assert all(results[index]["error"]["code"] for index in rejected)
    assert body["rejected"] == len(INVALID)
    accepted = {result["transaction_id"] for result in results if result["status"] == "accepted"}
    assert len(accepted) == MAX_BATCH_ITEMS - len(INVALID)

    table = local_stack.outputs["TransactionsTableName"]
    dynamodb = aws("dynamodb")

    def all_finished():
        # A consistent read of the accepted items alone: a scan every poll would compete with the
        # pipeline it waits for.
        statuses = statuses_of(dynamodb, table, accepted)
        done = {tid for tid, status in statuses.items() if status in {"SETTLED", "DECLINED"}}
        return statuses if done == accepted else None

    wait(all_finished, timeout=240, interval=2, what="every accepted item to settle or decline")
    statuses = _statuses_of_merchant(dynamodb, table, merchant_id)
    # Only the valid items were enqueued: nothing else of this merchant was ever recorded.
    assert set(statuses) == accepted


def test_more_than_500_items_is_413(api, payment):
    items = [{"idempotency_key": f"too-many-{index}", **payment()} for index in range(MAX_BATCH_ITEMS + 1)]

    response = api.post("/payments/batch", {"payments": items})

    assert response.status == 413
