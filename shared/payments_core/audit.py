"""The append-only audit table and its daily counters.

Row key: ``pk = transaction_id``, ``sk = "<step>#<event>"``. Both derive from the payment, so a
retried step writes the same key and ``attribute_not_exists`` lets it land once: each row in the
table is a fact that happened exactly once, and so is each INSERT record of the table's stream.

Dashboards read a time range through the ``by_day_shard`` GSI: ``gsi1pk = "<day>#<shard>"``
spreads a day over ``AUDIT_SHARDS`` partitions (one partition takes 1,000 WCU/s, about 250
payments/s if the key were the day alone); ``gsi1sk = "<at>#<transaction_id>#<sk>"`` orders rows
in time and stays unique.

The daily counters (``pk = "counter#<day>"``, ``sk`` the action) are kept off the hot path: a
step writes its row alone, and :class:`AuditCounters` adds the stream's INSERT records to the
counters. Stream delivery is at least once, so each stream shard has a high-water mark, the
sequence number of the last record counted, and every increment is written in one
TransactWriteItems with the mark it moves: a redelivered record is at or below the mark and
counts nothing.
"""

from __future__ import annotations

import base64
import heapq
import json
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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
# The high-water marks' partition; "counter#" keeps them inside the counters' UpdateItem grant.
HIGH_WATER_MARKS = f"{COUNTER_PREFIX}hwm"
# Stream sequence numbers are decimal strings of up to 40 digits; padded, they compare as strings.
_SEQUENCE_DIGITS = 40
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


class AuditReadPort(Protocol):
    """What the API's reads need of the audit table: the reader, or a fake in tests."""

    def trail(self, transaction_id: str) -> list[dict[str, Any]]: ...

    def counters(self, day: str) -> dict[str, int]: ...

    def range(
        self,
        start: datetime,
        end: datetime,
        *,
        action: str | None = None,
        outcome: str | None = None,
        limit: int = 100,
        next_token: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]: ...


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
        """Write the row once. False if this row already exists. The stream counts it."""
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
        try:
            self._client.put_item(
                TableName=self._table, Item=serialize(row), ConditionExpression="attribute_not_exists(sk)"
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise DependencyError("audit table write failed") from exc
        return True


def _sequence(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"]).zfill(_SEQUENCE_DIGITS)


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


class AuditCounters(_AuditTable):
    """Adds each audit row of a stream shard to its day's counter, exactly once."""

    def count(self, shard_id: str, records: list[dict[str, Any]]) -> int:
        """Count the records above the shard's mark; the number of rows counted."""
        mark_key = {"pk": HIGH_WATER_MARKS, "sk": shard_id}
        mark_item = self._get_item(mark_key, "audit counter mark read")
        mark = str(mark_item["sequence"]) if mark_item else None
        pending: list[tuple[str, tuple[str, str]]] = []
        for record in sorted(records, key=_sequence):
            sequence = _sequence(record)
            counted = _counted(record)
            if counted is not None and (mark is None or sequence > mark):
                pending.append((sequence, counted))
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
            self._apply(mark_key, mark, last, chunk)
            mark, pending, total = last, pending[taken:], total + taken
        return total

    def _apply(
        self, mark_key: dict[str, str], mark: str | None, last: str, counts: dict[tuple[str, str], int]
    ) -> None:
        guard = "attribute_not_exists(#sequence)" if mark is None else "#sequence = :mark"
        values: dict[str, Any] = {":last": last} if mark is None else {":last": last, ":mark": mark}
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
        items.append(
            {
                "Update": {
                    "TableName": self._table,
                    "Key": serialize(mark_key),
                    "UpdateExpression": "SET #sequence = :last",
                    "ConditionExpression": guard,
                    "ExpressionAttributeNames": {"#sequence": "sequence"},
                    "ExpressionAttributeValues": serialize(values),
                }
            }
        )
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            # A refused mark means another invocation moved it: the batch is retried and re-read.
            raise DependencyError("audit counters write failed") from exc


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


# One lower-case vocabulary for ``outcome``, whatever spelling a step stored: the dashboards filter
# and count by these words. Checks that let a payment through "passed"; checks that stop it
# "rejected"; the workflow's end is "settled", "declined" or "failed".
OUTCOMES: dict[str, str] = {
    "RECEIVED": "received",
    "CONFLICT": "conflict",
    "PASS": "passed",
    "APPROVE": "passed",
    "FAIL": "rejected",
    "DECLINE": "rejected",
    "ERROR": "error",
    "SETTLED": "settled",
    "DECLINED": "declined",
    "FAILED": "failed",
}
OUTCOME_VOCABULARY = tuple(dict.fromkeys(OUTCOMES.values()))


def outcome_word(stored: str) -> str:
    return OUTCOMES.get(stored, stored.lower())


def stored_outcomes(word: str) -> list[str]:
    """Every stored spelling of an outcome word (``declined`` -> DECLINED), the word itself included."""
    word = word.lower()
    return [word, *(stored for stored, mapped in OUTCOMES.items() if mapped == word)]


def _row_view(item: dict[str, Any]) -> dict[str, Any]:
    row = from_dynamo(item)
    view = {key: row[key] for key in ("transaction_id", "at", "action", "actor", "detail") if key in row}
    if row.get("outcome"):
        view["outcome"] = outcome_word(row["outcome"])
    return view


# Shards are read in parallel; one pool per process, as a Lambda environment runs one request at a time.
_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=32, thread_name_prefix="audit-shard")
    return _POOL


def shard_page_size(limit: int, shards: int) -> int:
    """How many rows to read per shard for a merged page of ``limit``.

    Rows land on shards by a hash of their transaction id, so the first ``limit`` rows of a range
    hold about ``limit / shards`` rows of each shard. For 100 rows over 16 shards a shard reads
    19, three times its mean share; its share reaches 19, so that it reads a second page, about
    once in 5,000 pages (binomial). Reading ``limit`` per shard instead would read ``shards``
    times the page.
    """
    return min(limit, max(8, -(-3 * limit // shards)))


class _ShardPages:
    """One shard's rows in time order, read a page of ``limit`` at a time: never more than needed."""

    def __init__(self, fetch: Any, first: Future[dict[str, Any]]) -> None:
        self._fetch = fetch
        self._page: Future[dict[str, Any]] | None = first

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while self._page is not None:
            page = self._page.result()
            start = page.get("LastEvaluatedKey")
            # A filtered page can hold fewer rows than Limit; only then is the next one read.
            self._page = None
            items = [deserialize(item) for item in page.get("Items", [])]
            yield from items
            if start is None:
                return
            self._page = _pool().submit(self._fetch, start)


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
        """The day's counters by action (rows counted so far: the stream lags the rows by seconds)."""
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=serialize({":pk": f"{COUNTER_PREFIX}{day}"}),
        )
        return dict(sorted((item["sk"], int(item["count"])) for item in items))

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
        """Rows with ``start <= at < end`` in time order, merged over the day's shards, paginated.

        Each shard is queried in parallel with a ``Limit`` of :func:`shard_page_size`, about three
        times its expected share of the page, and reads its next page only when the merge has used
        up the first one (a skewed range, or a filter that left a page short). A page therefore reads
        about ``3 x limit`` items, and never more than ``shards x limit``, however many rows the
        range holds.
        """
        if end <= start:
            raise InvalidRequest("'to' must be after 'from'", field="to")
        if end - start > timedelta(days=31):
            raise InvalidRequest("a range covers at most 31 days", field="to")
        lower = iso(start)
        upper = iso(end)
        after = _decode_token(next_token)["after"] if next_token else None
        low = after + "\x00" if after and after > lower else lower
        filters, values = [], {}
        names: dict[str, str] = {}
        if action:
            filters.append("#action = :action")
            names["#action"] = "action"
            values[":action"] = action
        if outcome:
            spellings = stored_outcomes(outcome)
            filters.append(f"#outcome IN ({', '.join(f':o{i}' for i in range(len(spellings)))})")
            names["#outcome"] = "outcome"
            values.update({f":o{i}": spelling for i, spelling in enumerate(spellings)})

        def query(pk: str, exclusive_start: dict[str, Any] | None) -> dict[str, Any]:
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": AUDIT_INDEX,
                # BETWEEN is inclusive; a row exactly at ``to`` is dropped below.
                "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk BETWEEN :low AND :high",
                "ExpressionAttributeValues": serialize({":pk": pk, ":low": low, ":high": upper, **values}),
                "Limit": shard_page_size(limit, self._shards),
            }
            if filters:
                kwargs["FilterExpression"] = " AND ".join(filters)
                kwargs["ExpressionAttributeNames"] = names
            if exclusive_start:
                kwargs["ExclusiveStartKey"] = exclusive_start
            try:
                response: dict[str, Any] = self._client.query(**kwargs)
            except ClientError as exc:
                raise DependencyError("audit table read failed") from exc
            return response

        rows: list[dict[str, Any]] = []
        last_sort_key = None
        day = parse_iso(lower).date()
        while day <= parse_iso(upper).date():
            shards = []
            for shard in range(self._shards):
                pk = f"{day.isoformat()}#{shard:02d}"

                def fetch(exclusive_start: dict[str, Any] | None, pk: str = pk) -> dict[str, Any]:
                    return query(pk, exclusive_start)

                shards.append(_ShardPages(fetch, _pool().submit(fetch, None)))
            for item in heapq.merge(*shards, key=lambda r: r["gsi1sk"]):
                if item["gsi1sk"] >= upper:
                    break
                if len(rows) == limit:
                    return rows, _encode_token({"after": last_sort_key or ""})
                rows.append(_row_view(item))
                last_sort_key = item["gsi1sk"]
            day += timedelta(days=1)
        return rows, None
