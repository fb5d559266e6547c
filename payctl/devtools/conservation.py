"""What ``make chaos`` checks after its run: every accepted payment complete for its outcome, and
the totals agreeing table by table (transactions, settlements, archive, audit rows, counters)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from payctl.tools.operator.dlq import Dlq
from payments_core.audit import COUNTER_PREFIX

TERMINAL = ("SETTLED", "DECLINED", "FAILED")
TRAILS = {
    "SETTLED": {"ingest#received", "validation#completed", "fraud#completed", "settlement#settled"},
    "DECLINED": {"ingest#received", "validation#completed", "fraud#completed", "settlement#declined"},
    "FAILED": {"ingest#received"},
}
# Actions that happen once per payment at most (a failure is recorded once per attempt).
ONCE = ("payment.received", "payment.settled", "payment.declined")
# Settled amounts by currency, then by where they are kept: transactions, settlements, archive.
Sums = dict[str, dict[str, Decimal]]


@dataclass
class Snapshot:
    transactions: dict[str, dict[str, Any]]
    settlements: dict[str, dict[str, Any]]
    archive: dict[str, list[dict[str, Any]]]  # transaction id -> its entries in every stored version
    rows: dict[str, list[dict[str, Any]]]  # transaction id -> audit rows
    counters: Counter[str]
    dlq: set[str]


def _scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    plain = TypeDeserializer()
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items.extend({k: plain.deserialize(v) for k, v in item.items()} for item in page["Items"])
    return items


def _audit(dynamodb: Any, table: str) -> tuple[dict[str, list[dict[str, Any]]], Counter[str]]:
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    counters: Counter[str] = Counter()
    for item in _scan(dynamodb, table):
        if str(item["pk"]).startswith(COUNTER_PREFIX):
            # The audit stream shards' high-water marks share the prefix and hold no count.
            if "count" in item:
                counters[item["sk"]] += int(item["count"])
        else:
            rows[item["pk"]].append(item)
    return dict(rows), counters


def _archive(s3: Any, bucket: str) -> dict[str, list[dict[str, Any]]]:
    archive: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix="archive/"):
        for version in page.get("Versions", []):
            body = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])["Body"]
            # One settled payment per line; every version of every object counts.
            for line in body.read().decode().splitlines():
                if line.strip():
                    document = json.loads(line, parse_float=Decimal)
                    archive[document["transaction_id"]].append(document)
    return dict(archive)


def snapshot(clients: dict[str, Any], outputs: dict[str, str], dlq: Dlq) -> Snapshot:
    dynamodb = clients["dynamodb"]
    rows, counters = _audit(dynamodb, outputs["AuditTableName"])
    return Snapshot(
        transactions={i["transaction_id"]: i for i in _scan(dynamodb, outputs["TransactionsTableName"])},
        settlements={i["transaction_id"]: i for i in _scan(dynamodb, outputs["SettlementsTableName"])},
        archive=_archive(clients["s3"], outputs["ArchiveBucketName"]),
        rows=rows,
        counters=counters,
        dlq={m.transaction_id for m in dlq.read(limit=100_000) if m.transaction_id},
    )


@dataclass
class Conservation:
    table: list[tuple[str, str, str, str]] = field(default_factory=list)
    violations: list[tuple[str, str]] = field(default_factory=list)

    def violate(self, transaction_id: str, what: str) -> None:
        self.violations.append((transaction_id, what))


def check(snap: Snapshot, accepted: Iterable[str]) -> Conservation:
    """Every accepted payment complete for its outcome, and the totals agree table by table."""
    result = Conservation()
    accepted_ids = set(accepted)
    statuses: Counter[str] = Counter()
    sums: Sums = defaultdict(lambda: defaultdict(Decimal))
    for tid in sorted(accepted_ids | set(snap.transactions)):
        item = snap.transactions.get(tid)
        if item is None:
            result.violate(tid, "accepted by the API but no transaction item")
            continue
        status = str(item.get("status"))
        statuses[status] += 1
        _check_status(result, snap, tid, status)
        _check_settlement(result, snap, tid, item, sums)
        _check_trail(result, snap.rows.get(tid, []), tid, status)
    row_actions = Counter(str(row["action"]) for rows in snap.rows.values() for row in rows)
    _check_counters(result, row_actions, snap.counters)
    _tabulate(result, snap, accepted_ids, statuses, row_actions, sums)
    return result


def _check_status(result: Conservation, snap: Snapshot, tid: str, status: str) -> None:
    if status not in TERMINAL:
        result.violate(tid, f"status {status}: not SETTLED, DECLINED or FAILED")
    elif status == "FAILED" and tid not in snap.dlq:
        result.violate(tid, "FAILED but not in the DLQ")


def _check_settlement(
    result: Conservation, snap: Snapshot, tid: str, item: dict[str, Any], sums: Sums
) -> None:
    """A settled payment has one record and one archive entry, all of one amount; no other has any."""
    status = str(item.get("status"))
    record = snap.settlements.get(tid)
    documents = snap.archive.get(tid, [])
    if status != "SETTLED":
        if record is not None or documents:
            result.violate(tid, f"{status} with a settlement record or an archive entry")
        return
    if record is None:
        result.violate(tid, "SETTLED without a settlement record")
    if len(documents) != 1:
        result.violate(tid, f"SETTLED with {len(documents)} archive entries")
    amounts = {Decimal(item["amount"])}
    if record is not None:
        amounts.add(Decimal(record["amount"]))
    amounts.update(Decimal(d["amount"]) for d in documents)
    if len(amounts) != 1:
        result.violate(tid, f"amounts differ: {sorted(map(str, amounts))}")
    currency = item["currency"]
    sums[currency]["transactions"] += Decimal(item["amount"])
    if record is not None:
        sums[currency]["settlements"] += Decimal(record["amount"])
    for document in documents:
        sums[currency]["archive"] += Decimal(document["amount"])


def _check_trail(result: Conservation, rows: list[dict[str, Any]], tid: str, status: str) -> None:
    keys = {str(row["sk"]) for row in rows}
    missing = TRAILS.get(status, set()) - keys
    if status == "FAILED" and not any(k.startswith("settlement#failed") for k in keys):
        missing.add("settlement#failed")
    if missing:
        result.violate(tid, f"{status}: audit trail lacks {sorted(missing)}")
    actions = Counter(str(row["action"]) for row in rows)
    for action in ONCE:
        if actions[action] > 1:
            result.violate(tid, f"{actions[action]} {action} rows")
    if actions["payment.settled"] and actions["payment.declined"]:
        result.violate(tid, "both settled and declined rows")


def _check_counters(result: Conservation, row_actions: Counter[str], counters: Counter[str]) -> None:
    for action in sorted(set(row_actions) | set(counters)):
        if row_actions[action] != counters[action]:
            result.violate(
                "-", f"counter {action} is {counters[action]}, the table holds {row_actions[action]} rows"
            )


def _tabulate(
    result: Conservation,
    snap: Snapshot,
    accepted: set[str],
    statuses: Counter[str],
    row_actions: Counter[str],
    sums: Sums,
) -> None:
    add = result.table.append
    add(("payments accepted by the API", str(len(accepted)), "", ""))
    add(("transaction items", str(len(snap.transactions)), "", ""))
    for status in TERMINAL:
        add((f"  {status}", str(statuses[status]), "", ""))

    def in_dlq(*wanted: str) -> int:
        return sum(1 for t in snap.dlq if str(snap.transactions.get(t, {}).get("status")) in wanted)

    add(("  FAILED and in the DLQ", str(in_dlq("FAILED")), "", ""))
    add(("DLQ messages of payments already done", str(in_dlq("SETTLED", "DECLINED")), "not replayed", ""))
    add(("settlement records", str(len(snap.settlements)), "", ""))
    add(("archive entries (object versions)", str(sum(len(v) for v in snap.archive.values())), "", ""))
    for action in sorted(row_actions):
        add((f"audit rows {action}", str(row_actions[action]), f"counter {snap.counters[action]}", ""))
    for currency in sorted(sums):
        totals = sums[currency]
        add(
            (
                f"settled {currency}",
                str(totals["transactions"]),
                f"settlements {totals['settlements']}",
                f"archive {totals['archive']}",
            )
        )
        if len({totals["transactions"], totals["settlements"], totals["archive"]}) != 1:
            result.violate("-", f"settled sums in {currency} differ: {dict(totals)}")
