"""Helpers for the workflow-step tests: payments, a RECEIVED transaction as ingest writes it, reads.

Every resource name comes from the deployed stack's outputs.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.client import BaseClient

from payments_core.clock import now_iso

# The sort keys of the audit rows a payment ends with when its first run settles (or declines) it.
SETTLED_ROWS = ["fraud#completed", "ingest#received", "settlement#settled", "validation#completed"]
DECLINED_ROWS = ["fraud#completed", "ingest#received", "settlement#declined", "validation#completed"]


def new_transaction_id() -> str:
    return str(uuid.uuid4())


def table(stack: Any, output: str) -> Any:
    return boto3.resource("dynamodb", region_name=stack.region).Table(stack.outputs[output])


def seed_transaction(
    stack: Any, transaction_id: str, document: dict[str, Any], *, status: str = "RECEIVED", **extra: Any
) -> dict[str, Any]:
    """The transaction item ingest's consumer puts before it starts the workflow."""
    created_at = extra.pop("created_at", None) or now_iso()
    customer = document.get("customer")
    item = {
        "transaction_id": transaction_id,
        "status": status,
        "merchant_id": document["merchant_id"],
        "amount": Decimal(document["amount"]),
        "currency": document["currency"],
        "reference": document.get("reference"),
        "payment_method": document["payment_method"],
        "metadata": document.get("metadata", {}),
        "submitter": "key-1",
        "idempotency_key": f"idem-{transaction_id}",
        "payload_hash": "0" * 64,
        "created_at": created_at,
        "updated_at": created_at,
        **extra,
    }
    if customer:
        item["customer"] = customer
        item["customer_id"] = customer["id"]
    item = {key: value for key, value in item.items() if value is not None}
    table(stack, "TransactionsTableName").put_item(Item=item)
    return item


def workflow_input(
    transaction_id: str, document: dict[str, Any], received_at: str | None = None
) -> dict[str, Any]:
    return {"transaction_id": transaction_id, "payment": document, "received_at": received_at or now_iso()}


def passed_checks() -> dict[str, Any]:
    return {
        "validation": {"outcome": "PASS", "reasons": [], "checked_at": now_iso()},
        "fraud": {"outcome": "APPROVE", "score": "0.00", "reasons": [], "checked_at": now_iso()},
    }


def settlement_event(
    action: str, transaction_id: str, document: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    """The Settle / Decline / RecordFailure Payload the state machine builds."""
    if action == "settle":
        fields.setdefault("received_at", now_iso())
    return {
        "action": action,
        "transaction_id": transaction_id,
        "payment": document,
        "checks": fields.pop("checks", None) or passed_checks(),
        **fields,
    }


def run(stack: Any, transaction_id: str, document: dict[str, Any], attempt: int = 1) -> dict[str, Any]:
    """StartSyncExecution as the consumer starts it: named ``<transaction_id>-<receive count>``."""
    return dict(
        stack.start_sync_execution(
            workflow_input(transaction_id, document), name=f"{transaction_id}-{attempt}"
        )
    )


def archive_entries(stack: Any, transaction_id: str) -> list[dict[str, Any]]:
    """The transaction's archive entries in every stored version of every object (versioning is
    on), once the archive has followed the stream."""
    drain_audit_stream(stack)
    s3 = boto3.client("s3", region_name=stack.region)
    bucket = stack.outputs["ArchiveBucketName"]
    entries = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix="archive/"):
        for version in page.get("Versions", []):
            body = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])["Body"]
            for line in body.read().decode().splitlines():
                entry = json.loads(line)
                if entry["transaction_id"] == transaction_id:
                    entries.append({**entry, "key": version["Key"]})
    return entries


def settlement_records(stack: Any, transaction_id: str) -> list[dict[str, Any]]:
    """The transaction's records in the settlements table, once the archive function has followed
    the stream (it puts them from the SETTLED image)."""
    drain_audit_stream(stack)
    return table(stack, "SettlementsTableName").query(
        KeyConditionExpression=Key("transaction_id").eq(transaction_id), ConsistentRead=True
    )["Items"]


def transaction(stack: Any, transaction_id: str) -> dict[str, Any] | None:
    return (
        table(stack, "TransactionsTableName")
        .get_item(Key={"transaction_id": transaction_id}, ConsistentRead=True)
        .get("Item")
    )


def raw_transaction(stack: Any, transaction_id: str) -> dict[str, Any]:
    """The item in DynamoDB's own typed form ({"N": "12.34"}), to see exactly what was stored."""
    client = boto3.client("dynamodb", region_name=stack.region)
    return client.get_item(
        TableName=stack.outputs["TransactionsTableName"],
        Key={"transaction_id": {"S": transaction_id}},
        ConsistentRead=True,
    )["Item"]


def audit_rows(stack: Any, transaction_id: str) -> list[dict[str, Any]]:
    """The payment's rows, once the trail has followed every state change written so far."""
    drain_audit_stream(stack)
    response = table(stack, "AuditTableName").query(
        KeyConditionExpression=Key("pk").eq(transaction_id), ConsistentRead=True
    )
    return response["Items"]


def audit_row(stack: Any, transaction_id: str, sk: str) -> dict[str, Any]:
    rows = [row for row in audit_rows(stack, transaction_id) if row["sk"] == sk]
    assert len(rows) == 1, f"expected one {sk} row, found {len(rows)}"
    return rows[0]


def drain_audit_stream(stack: Any) -> int:
    """Run the stream event sources (the audit trail and its counters, the settlement records and
    the archive) until they are empty, as Lambda would; batches delivered."""
    delivered = 0
    for _ in range(100):
        moved = sum(poller.poll_once().invoked for poller in stack.stream_pollers())
        if not moved:
            return delivered
        delivered += moved
    raise AssertionError("the audit stream did not drain")


def counter(stack: Any, row: dict[str, Any]) -> int:
    """The day's counter for the row's action, once the stream has counted every row written so far."""
    drain_audit_stream(stack)
    item = (
        table(stack, "AuditTableName")
        .get_item(Key={"pk": f"counter#{row['at'][:10]}", "sk": row["action"]}, ConsistentRead=True)
        .get("Item")
    )
    return int(item["count"]) if item else 0


@contextmanager
def dynamodb_calls(monkeypatch: Any) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Record every DynamoDB API call made in the process (handlers included): (operation, params)."""
    calls: list[tuple[str, dict[str, Any]]] = []
    original = BaseClient._make_api_call

    def spy(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            calls.append((operation_name, api_params))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", spy)
    yield calls
