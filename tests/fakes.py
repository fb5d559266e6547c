"""In-memory stand-ins for the adapters, keeping the real guards' semantics. One of each, for every test."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from payments_core.audit import AuditEvent
from payments_core.errors import TransactionNotFound
from payments_core.status import Status
from payments_core.transactions import GuardedWrite


class FakeAudit:
    """Both sides of the audit table: a row lands once per ``(transaction id, step#event)``, as the
    real key allows, and the reads the API makes. ``rows`` holds the events as appended."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], AuditEvent] = {}
        self.stamps: dict[tuple[str, str], datetime] = {}
        self.range_calls: list[dict[str, Any]] = []

    def append(self, event: AuditEvent, *, at: datetime | None = None) -> bool:
        key = (event.transaction_id, f"{event.step}#{event.event}")
        if key in self.rows:
            return False
        self.rows[key] = event
        self.stamps[key] = at or datetime.now()
        return True

    def _row(self, key: tuple[str, str]) -> dict[str, Any]:
        event = self.rows[key]
        return {
            "transaction_id": event.transaction_id,
            "at": self.stamps[key].isoformat(),
            "action": event.action,
            "actor": event.actor,
            "detail": event.detail,
            "outcome": event.outcome,
        }

    def trail(self, transaction_id: str) -> list[dict[str, Any]]:
        return sorted(
            (self._row(key) for key in self.rows if key[0] == transaction_id), key=lambda r: r["at"]
        )

    def range(
        self, start: datetime, end: datetime, **options: Any
    ) -> tuple[list[dict[str, Any]], str | None]:
        self.range_calls.append({"start": start, "end": end, **options})
        return [self._row(key) for key in self.rows][: options.get("limit", 100)], None

    def counters(self, day: str) -> dict[str, int]:
        return {"payment.received": len(self.rows)}


class FakeTransactions:
    """The transactions table: ingest's conditional put, the reads, and the forward-only status guard
    ``#status IN (RECEIVED, FAILED)``."""

    def __init__(self, items: dict[str, dict[str, Any]] | None = None) -> None:
        self.items: dict[str, dict[str, Any]] = items if items is not None else {}

    def create(self, item: dict[str, Any]) -> dict[str, Any] | None:
        existing = self.items.get(item["transaction_id"])
        if existing is not None:
            return existing
        self.items[item["transaction_id"]] = dict(item)
        return None

    def get(self, transaction_id: str) -> dict[str, Any] | None:
        item = self.items.get(transaction_id)
        return dict(item) if item else None

    def payload_hashes(self, transaction_ids: Sequence[str]) -> dict[str, str]:
        return {
            tid: self.items[tid]["payload_hash"]
            for tid in transaction_ids
            if tid in self.items and "payload_hash" in self.items[tid]
        }

    def transition(
        self, transaction_id: str, to: Status, fields: dict[str, Any], now: str, *, attempt: str | None = None
    ) -> GuardedWrite:
        item = self.items.get(transaction_id)
        if item is None or "status" not in item:
            raise TransactionNotFound("never received")
        if item["status"] not in (Status.RECEIVED, Status.FAILED):
            return GuardedWrite(applied=False, item=dict(item))
        if attempt is not None and (item.get("failure") or {}).get("execution") == attempt:
            return GuardedWrite(applied=False, item=dict(item))
        item.update(fields, status=to, updated_at=now)
        return GuardedWrite(applied=True)

    def status_of(self, transaction_id: str) -> Any:
        return self.items[transaction_id]["status"]
