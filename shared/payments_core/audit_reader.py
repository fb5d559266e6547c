"""The audit table's reads: one payment's trail, a day's counters, and the dashboards' time range.

A range is read through the ``by_day_shard`` GSI (see ``payments_core.audit`` for its keys): each
of the day's shards is queried in parallel and the shards merged in time order.
"""

from __future__ import annotations

import base64
import heapq
import json
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import ClientError

from payments_core.audit import AUDIT_INDEX, COUNTER_PREFIX, AuditTable
from payments_core.clock import iso, parse_iso
from payments_core.dynamo import deserialize, from_dynamo, serialize
from payments_core.errors import DependencyError, InvalidRequest


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


@dataclass(frozen=True)
class _RangeQuery:
    """The page request of a range read, the same for every shard of every day."""

    table: str
    low: str
    high: str
    page_size: int
    filters: tuple[str, ...] = ()
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        table: str,
        lower: str,
        upper: str,
        after: str | None,
        action: str | None,
        outcome: str | None,
        page_size: int,
    ) -> _RangeQuery:
        filters, names, values = [], {}, {}
        if action:
            filters.append("#action = :action")
            names["#action"] = "action"
            values[":action"] = action
        if outcome:
            spellings = stored_outcomes(outcome)
            filters.append(f"#outcome IN ({', '.join(f':o{i}' for i in range(len(spellings)))})")
            names["#outcome"] = "outcome"
            values.update({f":o{i}": spelling for i, spelling in enumerate(spellings)})
        low = after + "\x00" if after and after > lower else lower
        return cls(table, low, upper, page_size, tuple(filters), names, values)

    def request(self, pk: str, exclusive_start: dict[str, Any] | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": AUDIT_INDEX,
            # BETWEEN is inclusive; a row exactly at ``to`` is dropped by the reader.
            "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": serialize(
                {":pk": pk, ":low": self.low, ":high": self.high, **self.values}
            ),
            "Limit": self.page_size,
        }
        if self.filters:
            kwargs["FilterExpression"] = " AND ".join(self.filters)
            kwargs["ExpressionAttributeNames"] = self.names
        if exclusive_start:
            kwargs["ExclusiveStartKey"] = exclusive_start
        return kwargs


class AuditReader(AuditTable):
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
        after = _decode_token(next_token)["after"] if next_token else None
        page_size = shard_page_size(limit, self._shards)
        query = _RangeQuery.of(self._table, iso(start), iso(end), after, action, outcome, page_size)
        rows: list[dict[str, Any]] = []
        last_sort_key = None
        day = parse_iso(iso(start)).date()
        while day <= parse_iso(query.high).date():
            for item in heapq.merge(*self._shard_pages(day, query), key=lambda r: r["gsi1sk"]):
                if item["gsi1sk"] >= query.high:
                    break
                if len(rows) == limit:
                    return rows, _encode_token({"after": last_sort_key or ""})
                rows.append(_row_view(item))
                last_sort_key = item["gsi1sk"]
            day += timedelta(days=1)
        return rows, None

    def _shard_pages(self, day: date, query: _RangeQuery) -> list[_ShardPages]:
        """The day's shards, each one's first page already asked for, in parallel."""
        shards = []
        for shard in range(self._shards):
            pk = f"{day.isoformat()}#{shard:02d}"

            def fetch(exclusive_start: dict[str, Any] | None, pk: str = pk) -> dict[str, Any]:
                try:
                    response: dict[str, Any] = self._client.query(**query.request(pk, exclusive_start))
                except ClientError as exc:
                    raise DependencyError("audit table read failed") from exc
                return response

            shards.append(_ShardPages(fetch, _pool().submit(fetch, None)))
        return shards
