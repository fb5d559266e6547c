"""The append-only audit table and its daily counters.

Row key: ``pk = transaction_id``, ``sk = "<step>#<event>"``. Both derive from the payment, so a
retried step writes the same key and ``attribute_not_exists`` lets it land once. The daily
counter is updated in the same TransactWriteItems, so a retry cannot count twice.

Dashboards read a time range through the ``by_day_shard`` GSI: ``gsi1pk = "<day>#<shard>"``
spreads a day over ``AUDIT_SHARDS`` partitions (one partition takes 1,000 WCU/s, about 250
payments/s if the key were the day alone); ``gsi1sk = "<at>#<transaction_id>#<sk>"`` orders rows
in time and stays unique.
"""

from __future__ import annotations

import base64
import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import ClientError

from payments_core.clock import iso, parse_iso, utc_now
from payments_core.dynamo import DynamoTable, deserialize, from_dynamo, serialize
from payments_core.errors import DependencyError, InvalidRequest
from payments_core.ids import shard_of
from payments_core.settings import get_settings

AUDIT_INDEX = "by_day_shard"
COUNTER_PREFIX = "counter#"


def _gsi_keys(transaction_id: str, sk: str, at: str, shards: int) -> tuple[str, str]:
    return f"{at[:10]}#{shard_of(transaction_id, shards):02d}", f"{at}#{transaction_id}#{sk}"


@dataclass(frozen=True)
class AuditEvent:
    transaction_id: str
    step: str
    event: str
    action: str
    actor: str
    detail: dict[str, Any]
    outcome: str | None = None


class AuditSink(Protocol):
    """What a step's logic needs of the audit table: the writer, or a fake in tests."""

    def append(self, event: AuditEvent) -> bool: ...


class _AuditTable(DynamoTable):
    """The audit table and its shard count, both from settings unless given."""

    table_setting = "audit_table"

    def __init__(
        self, table_name: str | None = None, shards: int | None = None, dynamodb: Any = None
    ) -> None:
        super().__init__(table_name, dynamodb)
        self._shards = shards or get_settings().audit_shards


class AuditWriter(_AuditTable):
    def append(self, event: AuditEvent, *, at: datetime | None = None) -> bool:
        """Write the row and bump the day's counter once. False if this row already exists."""
        stamp = iso(at or utc_now())
        sk = f"{event.step}#{event.event}"
        gsi1pk, gsi1sk = _gsi_keys(event.transaction_id, sk, stamp, self._shards)
        row = {
            "pk": event.transaction_id,
            "sk": sk,
            "transaction_id": event.transaction_id,
            "at": stamp,
            "action": event.action,
            "actor": event.actor,
            "detail": event.detail,
            "outcome": event.outcome,
            "gsi1pk": gsi1pk,
            "gsi1sk": gsi1sk,
        }
        counter_key = {"pk": f"{COUNTER_PREFIX}{gsi1pk}", "sk": event.action}
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": serialize(row),
                            "ConditionExpression": "attribute_not_exists(sk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": serialize(counter_key),
                            "UpdateExpression": "ADD #count :one SET #day = :day",
                            "ExpressionAttributeNames": {"#count": "count", "#day": "day"},
                            "ExpressionAttributeValues": serialize({":one": 1, ":day": stamp[:10]}),
                        }
                    },
                ]
            )
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return False
            raise DependencyError("audit table write failed") from exc
        return True


def _encode_token(position: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def _decode_token(token: str) -> dict[str, str]:
    try:
        position = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        raise InvalidRequest("next_token is not valid", field="next_token") from None
    if not isinstance(position, dict) or not isinstance(position.get("after"), str):
        raise InvalidRequest("next_token is not valid", field="next_token")
    return position


def _row_view(item: dict[str, Any]) -> dict[str, Any]:
    row = from_dynamo(item)
    view = {key: row[key] for key in ("transaction_id", "at", "action", "actor", "detail") if key in row}
    if row.get("outcome"):
        view["outcome"] = row["outcome"]
    return view


class AuditReader(_AuditTable):
    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        paginator = self._client.get_paginator("query")
        try:
            for page in paginator.paginate(TableName=self._table, **kwargs):
                for item in page.get("Items", []):
                    yield deserialize(item)
        except ClientError as exc:
            raise DependencyError("audit table read failed") from exc

    def trail(self, transaction_id: str) -> list[dict[str, Any]]:
        """Every audit row of one transaction, in time order."""
        rows = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=serialize({":pk": transaction_id}),
            ConsistentRead=True,
        )
        return sorted((_row_view(r) for r in rows), key=lambda r: r["at"])

    def counters(self, day: str) -> dict[str, int]:
        """The day's counters by action, summed over the shards."""
        totals: dict[str, int] = {}
        for shard in range(self._shards):
            for item in self._query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=serialize({":pk": f"{COUNTER_PREFIX}{day}#{shard:02d}"}),
            ):
                totals[item["sk"]] = totals.get(item["sk"], 0) + int(item["count"])
        return dict(sorted(totals.items()))

    def range(
        self,
        start: datetime,
        end: datetime,
        *,
        action: str | None = None,
        outcome: str | None = None,
        limit: int = 100,
        next_token: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Rows with ``start <= at < end`` in time order, merged over the day's shards, paginated."""
        if end <= start:
            raise InvalidRequest("'to' must be after 'from'", field="to")
        if end - start > timedelta(days=31):
            raise InvalidRequest("a range covers at most 31 days", field="to")
        lower = iso(start)
        upper = iso(end)
        after = _decode_token(next_token)["after"] if next_token else None
        filters, values = [], {}
        names: dict[str, str] = {}
        if action:
            filters.append("#action = :action")
            names["#action"] = "action"
            values[":action"] = action
        if outcome:
            filters.append("#outcome = :outcome")
            names["#outcome"] = "outcome"
            values[":outcome"] = outcome

        def shard_rows(pk: str) -> Iterator[dict[str, Any]]:
            low = after + "\x00" if after and after > lower else lower
            kwargs: dict[str, Any] = {
                "IndexName": AUDIT_INDEX,
                "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk BETWEEN :low AND :high",
                "ExpressionAttributeValues": serialize({":pk": pk, ":low": low, ":high": upper, **values}),
            }
            if filters:
                kwargs["FilterExpression"] = " AND ".join(filters)
                kwargs["ExpressionAttributeNames"] = names
            for item in self._query(**kwargs):
                if item["gsi1sk"] < upper:
                    yield item

        rows: list[dict[str, Any]] = []
        last_sort_key = None
        day = parse_iso(lower).date()
        while day <= parse_iso(upper).date() and len(rows) <= limit:
            streams = [shard_rows(f"{day.isoformat()}#{s:02d}") for s in range(self._shards)]
            for item in heapq.merge(*streams, key=lambda r: r["gsi1sk"]):
                if len(rows) == limit:
                    return rows, _encode_token({"after": last_sort_key or ""})
                rows.append(_row_view(item))
                last_sort_key = item["gsi1sk"]
            day += timedelta(days=1)
        return rows, None
