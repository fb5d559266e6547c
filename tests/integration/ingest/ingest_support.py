"""Driving the ingest handlers on the local stack: REST proxy events, the queue, the tables.

Every resource name comes from the stack's outputs. Each test gets its own API key id, so its
idempotency keys and transaction ids never meet another test's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key

from payctl.runtime.sqs_event_sources import sqs_event
from tests import factories
from tests.integration.workflow_support import drain_audit_stream


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any


@dataclass
class IngestDriver:
    stack: Any
    api_key_id: str

    # ------------------------------------------------------------------ API

    def call(self, method: str, resource: str, *, api_key_id: str | None = None, **options: Any) -> Reply:
        event = factories.rest_event(method, resource, api_key_id=api_key_id or self.api_key_id, **options)
        raw = self.stack.invoke("IngestApiFunction", event)
        return Reply(raw["statusCode"], json.loads(raw["body"]) if raw.get("body") else None)

    def post(self, key: str, body: Any, **options: Any) -> Reply:
        return self.call("POST", "/payments", body=body, headers={"Idempotency-Key": key}, **options)

    def post_batch(self, items: list[dict[str, Any]]) -> Reply:
        return self.call("POST", "/payments/batch", body={"payments": items})

    def get(self, transaction_id: str, **options: Any) -> Reply:
        return self.call(
            "GET", "/payments/{transaction_id}", path_parameters={"transaction_id": transaction_id}, **options
        )

    def get_audit(self, transaction_id: str, **options: Any) -> Reply:
        drain_audit_stream(self.stack)
        return self.call(
            "GET",
            "/payments/{transaction_id}/audit",
            path_parameters={"transaction_id": transaction_id},
            **options,
        )

    # ------------------------------------------------------------------ queue

    @property
    def _sqs(self) -> Any:
        return boto3.client("sqs", region_name=self.stack.region)

    @property
    def queue_url(self) -> str:
        return self.stack.outputs["PaymentsQueueUrl"]

    def receive_all(self) -> list[dict[str, Any]]:
        """Take every message off the queue (deleting it): what the API enqueued."""
        taken: list[dict[str, Any]] = []
        while True:
            batch = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not batch:
                return taken
            taken.extend(batch)
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )

    def send_raw(self, body: str) -> None:
        self._sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)

    def consumer_event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The SQS event Lambda would hand the consumer for these received messages."""
        return sqs_event(messages, self.stack.outputs["PaymentsQueueArn"], self.stack.region)

    def consume(self, messages: list[dict[str, Any]]) -> list[str]:
        """Invoke the consumer on these messages; the message ids it reports as failed."""
        response = self.stack.invoke("IngestConsumerFunction", self.consumer_event(messages))
        return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]

    # ------------------------------------------------------------------ tables

    def _table(self, output: str) -> Any:
        return boto3.resource("dynamodb", region_name=self.stack.region).Table(self.stack.outputs[output])

    def transaction(self, transaction_id: str) -> dict[str, Any] | None:
        return (
            self._table("TransactionsTableName")
            .get_item(Key={"transaction_id": transaction_id}, ConsistentRead=True)
            .get("Item")
        )

    def audit_rows(self, transaction_id: str) -> list[dict[str, Any]]:
        """The payment's rows, once the trail has followed every state change written so far."""
        drain_audit_stream(self.stack)
        return self._table("AuditTableName").query(KeyConditionExpression=Key("pk").eq(transaction_id))[
            "Items"
        ]
