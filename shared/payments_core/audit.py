"""The append-only audit table and its daily counters.

Row key: ``pk = transaction_id``, ``sk = "<step>#<event>"``. Both derive from the state change
the row records, and so does every other attribute of the row: a row written again is the same
row. Most rows are derived from the transactions table's stream (``payments_core.audit_trail``);
the few that no transaction write stands for are appended with ``attribute_not_exists``. Each
row is a fact that happened exactly once, and so is each INSERT record of the table's stream.

Dashboards read a time range (``payments_core.audit_reader``) through the ``by_day_shard`` GSI:
``gsi1pk = "<day>#<shard>"`` spreads a day over ``AUDIT_SHARDS`` partitions (one partition takes
1,000 WCU/s, about 250 payments/s if the key were the day alone); ``gsi1sk =
"<at>#<transaction_id>#<sk>"`` orders rows in time and stays unique.

The daily counters (``pk = "counter#<day>"``, ``sk`` the action) are kept off the hot path:
:class:`AuditCounters` adds the stream's INSERT records to the counters. Stream delivery is at
least once, so each stream shard has a high-water mark
(:mod:`payments_core.streams`), the sequence number of the last record counted, and every
increment is written in one TransactWriteItems with the mark it moves: a redelivered record is
at or below the mark and counts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from payments_core.clock import iso, utc_now
from payments_core.dynamo import DynamoTable, serialize
from payments_core.errors import DependencyError
from payments_core.ids import shard_of
from payments_core.settings import get_settings
from payments_core.streams import mark_key, mark_update, sequence

AUDIT_INDEX = "by_day_shard"
COUNTER_PREFIX = "counter#"
# One TransactWriteItems holds 100 items: the mark and at most 99 counters.
_COUNTERS_PER_TRANSACTION = 99


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


class AuditPort(Protocol):
    """What a step's logic needs of the audit table: the writer, or a fake in tests."""

    def append(self, event: AuditEvent, *, at: datetime | None = None) -> bool:
        """Write the row once, stamped ``at`` (default now). False if this row already exists."""
        ...


class AuditTable(DynamoTable):
    """The audit table and its shard count, both from settings unless given."""

    table_setting = "audit_table"

    def __init__(
        self, table_name: str | None = None, shards: int | None = None, dynamodb: Any = None
    ) -> None:
        super().__init__(table_name, dynamodb)
        self._shards = shards or get_settings().audit_shards


def audit_row(event: AuditEvent, stamp: str, shards: int) -> dict[str, Any]:
    """The row of ``event`` stamped ``stamp``: its key, its content and its ``by_day_shard`` keys."""
    sk = f"{event.step}#{event.event}"
    gsi1pk, gsi1sk = _gsi_keys(event.transaction_id, sk, stamp, shards)
    return {
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


class AuditWriter(AuditTable):
    """Rows that no transaction write stands for (a conflicting payload, an operator's replay)."""

    def append(self, event: AuditEvent, *, at: datetime | None = None) -> bool:
        """Write the row once. False if this row already exists. The stream counts it."""
        row = audit_row(event, iso(at or utc_now()), self._shards)
        try:
            self._client.put_item(
                TableName=self._table, Item=serialize(row), ConditionExpression="attribute_not_exists(sk)"
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise DependencyError("audit table write failed") from exc
        return True


def _counted(record: dict[str, Any]) -> tuple[str, str] | None:
    """(day, action) of an audit row's INSERT record; None for anything else (counters, marks)."""
    if record.get("eventName") != "INSERT":
        return None
    image = record.get("dynamodb", {}).get("NewImage") or {}
    pk = image.get("pk", {}).get("S", "")
    at, action = image.get("at", {}).get("S"), image.get("action", {}).get("S")
    if pk.startswith(COUNTER_PREFIX) or not at or not action:
        return None
    return at[:10], action


class AuditCounters(AuditTable):
    """Adds each audit row of a stream shard to its day's counter, exactly once."""

    def count(self, shard_id: str, records: list[dict[str, Any]]) -> int:
        """Count the records above the shard's mark; the number of rows counted."""
        mark_at = mark_key(shard_id)
        mark_item = self._get_item(mark_at, "audit counter mark read")
        mark = str(mark_item["sequence"]) if mark_item else None
        pending: list[tuple[str, tuple[str, str]]] = []
        for record in sorted(records, key=sequence):
            number = sequence(record)
            counted = _counted(record)
            if counted is not None and (mark is None or number > mark):
                pending.append((number, counted))
        total = 0
        while pending:
            chunk: dict[tuple[str, str], int] = {}
            taken = 0
            for _, key in pending:
                if key not in chunk and len(chunk) == _COUNTERS_PER_TRANSACTION:
                    break
                chunk[key] = chunk.get(key, 0) + 1
                taken += 1
            last = pending[taken - 1][0]
            self._apply(mark_at, mark, last, chunk)
            mark, pending, total = last, pending[taken:], total + taken
        return total

    def _apply(
        self, key: dict[str, str], mark: str | None, last: str, counts: dict[tuple[str, str], int]
    ) -> None:
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": serialize({"pk": f"{COUNTER_PREFIX}{day}", "sk": action}),
                    "UpdateExpression": "ADD #count :n SET #day = :day",
                    "ExpressionAttributeNames": {"#count": "count", "#day": "day"},
                    "ExpressionAttributeValues": serialize({":n": n, ":day": day}),
                }
            }
            for (day, action), n in counts.items()
        ]
        items.append({"Update": mark_update(self._table, key, mark, last)})
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            # A refused mark means another invocation moved it: the batch is retried and re-read.
            raise DependencyError("audit counters write failed") from exc
