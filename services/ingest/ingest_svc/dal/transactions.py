"""Ingest's side of the transactions table: the one conditional put that creates an item, and reads."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from payments_core.dynamo import deserialize, serialize
from payments_core.errors import DependencyError
from payments_core.status import Status
from payments_core.transactions import CONDITION_FAILED, TransactionStore

_BATCH_GET_LIMIT: Final[int] = 100
_BATCH_GET_ATTEMPTS: Final[int] = 3
_BATCH_GET_BACKOFF_SECONDS: Final[float] = 0.05


class TransactionsTable(TransactionStore):
    """Ingest's side of the transactions table: the one conditional put that creates an item, and reads."""

    # What ingest reads back (the GET view, the consumer's duplicate check): never ``metadata`` or
    # ``customer``, free-form maps that older code stored unchecked, so no odd value in them (an
    # empty key, say) can make a read fail.
    READ_ATTRIBUTES: tuple[str, ...] = (
        "transaction_id",
        "status",
        "submitter",
        "payload_hash",
        "amount",
        "currency",
        "merchant_id",
        "reference",
        "customer_id",
        "payment_method",
        "decline_reasons",
        "validation",
        "fraud",
        "settlement",
        "failure",
        "created_at",
        "updated_at",
    )

    def get(self, transaction_id: str) -> dict[str, Any] | None:
        return self._get_item(
            {"transaction_id": transaction_id}, "transactions table read", self.READ_ATTRIBUTES
        )

    def create(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """Put the item if no item has its id: None when this call created it, else the item that stood."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=serialize(item),
                ConditionExpression="attribute_not_exists(transaction_id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != CONDITION_FAILED:
                raise DependencyError("transactions table write failed") from exc
            old = exc.response.get("Item")
            existing = deserialize(old) if old else self.get(item["transaction_id"])
            if existing is None:
                raise DependencyError("transaction vanished between write and read; retry") from exc
            if "payload_hash" not in existing:
                return self._adopt(item)
            return existing
        return None

    def payload_hashes(self, transaction_ids: Sequence[str]) -> dict[str, str]:
        """The payload hash of each of these transactions that exists, read consistently.

        BatchGetItem, 100 keys a call; keys DynamoDB leaves unprocessed are asked for again a few
        times with a short backoff, then the read fails as a dependency error (the request can be
        retried with the same idempotency keys).
        """
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(transaction_ids))
        for start in range(0, len(unique), _BATCH_GET_LIMIT):
            keys = [serialize({"transaction_id": tid}) for tid in unique[start : start + _BATCH_GET_LIMIT]]
            request: dict[str, Any] = {
                self._table: {
                    "Keys": keys,
                    "ConsistentRead": True,
                    "ProjectionExpression": "transaction_id, payload_hash",
                }
            }
            for attempt in range(_BATCH_GET_ATTEMPTS):
                if attempt:
                    time.sleep(_BATCH_GET_BACKOFF_SECONDS * 2**attempt)
                try:
                    response = self._client.batch_get_item(RequestItems=request)
                except (ClientError, BotoCoreError) as exc:
                    raise DependencyError("transactions table read failed") from exc
                for item in response.get("Responses", {}).get(self._table, []):
                    plain = deserialize(item)
                    if "payload_hash" in plain:
                        found[plain["transaction_id"]] = plain["payload_hash"]
                unprocessed = (response.get("UnprocessedKeys") or {}).get(self._table)
                if not unprocessed:
                    break
                request = {self._table: unprocessed}
            else:
                raise DependencyError("transactions table read throttled; retry")
        return found

    def _adopt(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """Fill in the ingest fields of an item a workflow step created first with UpdateItem.

        Only the attributes ingest owns are set, so a check result already there stays.
        """
        fields = {name: value for name, value in item.items() if name not in ("transaction_id", "status")}
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":f{i}": value for i, value in enumerate(fields.values())}
        assignments = [f"#f{i} = :f{i}" for i in range(len(fields))]
        assignments.append("#status = if_not_exists(#status, :received)")
        names.update({"#status": "status", "#hash": "payload_hash"})
        values[":received"] = Status.RECEIVED.value
        try:
            self._client.update_item(
                TableName=self._table,
                Key=serialize({"transaction_id": item["transaction_id"]}),
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression="attribute_not_exists(#hash)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=serialize(values),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != CONDITION_FAILED:
                raise DependencyError("transactions table write failed") from exc
            return self.get(item["transaction_id"])
        return None
