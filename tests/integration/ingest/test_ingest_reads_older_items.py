"""Reads never fail on stored data: items written by older code, with values today's API refuses,
are still served by GET and listed by the operator's table reads."""

from __future__ import annotations

import boto3

from payments_core.ids import transaction_id


def _write_directly(ingest, tid: str, **attributes) -> None:
    """A low-level PutItem, as older code that checked less could have written the item."""
    boto3.client("dynamodb", region_name=ingest.stack.region).put_item(
        TableName=ingest.stack.outputs["TransactionsTableName"],
        Item={
            "transaction_id": {"S": tid},
            "status": {"S": "RECEIVED"},
            "submitter": {"S": ingest.api_key_id},
            "merchant_id": {"S": "m_old"},
            "created_at": {"S": "2026-01-01T00:00:00+00:00"},
            **attributes,
        },
    )


def test_get_serves_an_item_whose_metadata_has_an_empty_key(ingest):
    tid = transaction_id(ingest.api_key_id, "old-1")
    _write_directly(
        ingest,
        tid,
        amount={"N": "12.34"},
        currency={"S": "USD"},
        metadata={"M": {"": {"S": "x"}, "ok": {"S": "y"}}},
        customer={"M": {"": {"S": "z"}}},
    )

    reply = ingest.get(tid)

    assert reply.status == 200
    assert (reply.body["transaction_id"], reply.body["amount"], reply.body["status"]) == (
        tid,
        "12.34",
        "RECEIVED",
    )


def test_get_serves_an_item_with_fields_of_unexpected_types(ingest):
    tid = transaction_id(ingest.api_key_id, "old-2")
    _write_directly(
        ingest,
        tid,
        amount={"S": "not a number"},
        decline_reasons={"S": "one string"},
        payment_method={"S": "tok_x"},
        validation={"L": [{"S": "a"}]},
        failure={"S": "boom"},
        reference={"N": "7"},
    )

    reply = ingest.get(tid)

    assert reply.status == 200
    assert reply.body["amount"] == "not a number"
    assert reply.body["decline_reasons"] == [] and reply.body["reference"] == "7"
