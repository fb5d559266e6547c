"""The settlement records and the archive: settled payments from the transactions table's stream.

A payment's SETTLED status is the state change its settlement record and its archive entry
derive from: the stream delivers it at least once and retries a batch until it succeeds, so the
settle step writes the status alone, one ``BatchWriteItem`` puts 25 records, and one
``PutObject`` holds a whole batch instead of one payment.

A settlement record's content derives from the SETTLED image alone, so a record put twice is the
same record; the records of a batch are put before its archive objects, and only those above
the shard's mark (an archived record's own was put before it).

Layout: ``archive/yyyy/mm/dd/<stream shard>/<first sequence number>.jsonl``, dated by the
settlement day, one JSON document per line. A settled payment is found under the day of its
``settled_at``; every line carries its transaction id, so a duplicate is visible to any reader.

Each entry is written exactly once. A batch is cut into runs of one settlement day, in stream
order. A run's key is fixed by its first record, and the object is written with
``If-None-Match: *``, so a re-run after a crash finds it instead of writing it again; the
object's metadata says which record it reaches, and the re-run moves on from there. The shard's
high-water mark (``payments_core.streams``) is moved last, past everything archived, so a later
batch never starts inside an object's range.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from payments_core.errors import DependencyError
from payments_core.money import decimal_strings, format_amount
from payments_core.status import Status
from settlement_svc.fees import FEE_RATE, FIXED_FEE

ARCHIVE_PREFIX: Final = "archive/"
_CARD_FIELDS: Final = ("type", "brand", "last4", "country")


@dataclass(frozen=True)
class SettledRecord:
    """One stream record of a SETTLED transaction: its padded sequence number and new image."""

    sequence: str
    item: Mapping[str, Any]


class ArchiveObjects(Protocol):
    def put_once(self, key: str, body: bytes, last_sequence: str) -> bool:
        """Write the object unless the key exists; False if it did."""
        ...

    def last_sequence(self, key: str) -> str | None:
        """The last stream record an existing object holds; None if there is no object."""
        ...


class LedgerRecords(Protocol):
    def write(self, records: Sequence[dict[str, Any]]) -> int:
        """Put the settlement records; one whose key exists is overwritten with itself."""
        ...


class StreamMarks(Protocol):
    def read(self, shard_id: str) -> str | None: ...

    def move(self, shard_id: str, mark: str | None, last: str) -> None:
        """Move the shard's mark from ``mark`` to ``last``; raises if another writer moved it."""
        ...


@dataclass(frozen=True)
class ArchivePorts:
    ledger: LedgerRecords
    objects: ArchiveObjects
    marks: StreamMarks


def archive_day(item: Mapping[str, Any]) -> str:
    """``yyyy/mm/dd`` of the settlement."""
    settled_at = str(item["settlement"]["settled_at"])
    return settled_at[:10].replace("-", "/")


def archive_key(day: str, shard_id: str, first_sequence: str) -> str:
    return f"{ARCHIVE_PREFIX}{day}/{shard_id}/{first_sequence}.jsonl"


def archive_document(item: Mapping[str, Any]) -> dict[str, Any]:
    """The archived settlement: amounts as strings; of the card only type, brand, last4 and country."""
    settlement = item["settlement"]
    currency = str(item["currency"])
    method = item.get("payment_method") or {}
    checks = {name: item[name] for name in ("validation", "fraud") if isinstance(item.get(name), Mapping)}
    return {
        "transaction_id": item["transaction_id"],
        "status": Status.SETTLED.value,
        "merchant_id": item.get("merchant_id"),
        "reference": item.get("reference"),
        "amount": format_amount(settlement["amount"], currency),
        "currency": currency,
        "fee": format_amount(settlement["fee"], currency),
        "net": format_amount(settlement["net"], currency),
        "fee_schedule": {"rate": str(FEE_RATE), "fixed": format_amount(FIXED_FEE[currency], currency)},
        "payment_method": {name: method.get(name) for name in _CARD_FIELDS},
        "customer": decimal_strings(item.get("customer")),
        "metadata": decimal_strings(dict(item.get("metadata") or {})),
        "checks": decimal_strings(checks),
        "received_at": item.get("created_at"),
        "settled_at": settlement["settled_at"],
    }


def settlement_record(item: Mapping[str, Any]) -> dict[str, Any]:
    """The settlements table's record of a SETTLED transaction."""
    settlement = item["settlement"]
    currency = str(settlement["currency"])
    return {
        "transaction_id": item["transaction_id"],
        "merchant_id": item.get("merchant_id"),
        "reference": item.get("reference"),
        "amount": settlement["amount"],
        "currency": currency,
        "fee": settlement["fee"],
        "net": settlement["net"],
        "fee_rate": str(FEE_RATE),
        "fixed_fee": FIXED_FEE[currency],
        "received_at": item.get("created_at"),
        "settled_at": settlement["settled_at"],
    }


def archive_body(records: Sequence[SettledRecord]) -> bytes:
    lines = (
        json.dumps(archive_document(r.item), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        for r in records
    )
    return ("\n".join(lines) + "\n").encode()


def archive_batch(
    shard_id: str,
    records: Sequence[SettledRecord],
    *,
    ledger: LedgerRecords,
    objects: ArchiveObjects,
    marks: StreamMarks,
) -> int:
    """Record and archive the settlements above the shard's mark, then move the mark; the number
    archived now."""
    mark = marks.read(shard_id)
    unique = {r.sequence: r for r in records if mark is None or r.sequence > mark}
    pending = [unique[number] for number in sorted(unique)]
    if pending:
        ledger.write([settlement_record(r.item) for r in pending])
    reached = mark
    archived = 0
    while pending:
        day = archive_day(pending[0].item)
        run: list[SettledRecord] = []
        for record in pending:
            if archive_day(record.item) != day:
                break
            run.append(record)
        key = archive_key(day, shard_id, run[0].sequence)
        if objects.put_once(key, archive_body(run), run[-1].sequence):
            reached, archived = run[-1].sequence, archived + len(run)
        else:
            # An earlier run of this batch wrote the object: it may hold more or fewer of these.
            held = objects.last_sequence(key)
            if held is None:
                raise DependencyError(f"archive object {key} was refused as existing but is not there")
            reached = held
        pending = [r for r in pending if r.sequence > reached]
    if reached is not None and reached != mark:
        marks.move(shard_id, mark, reached)
    return archived
