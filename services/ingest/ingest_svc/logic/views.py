"""The read side: a submitter's own transaction, its audit trail, and the dashboards' audit range.

Every read is tolerant of what older code stored: a field of an unexpected type is shown as text
or left out, never a failed read. Numbers inside stored maps go out as exact decimal strings.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from ingest_svc.logic.ports import TransactionsPort
from payments_core.clock import parse_iso
from payments_core.errors import InvalidRequest, PaymentsError, TransactionNotFound
from payments_core.money import decimal_strings, format_amount
from payments_core.status import Status

DEFAULT_AUDIT_WINDOW: Final[timedelta] = timedelta(hours=1)
AUDIT_EARLIEST: Final[datetime] = datetime(1970, 1, 1, tzinfo=UTC)
AUDIT_LATEST: Final[datetime] = datetime(9000, 1, 1, tzinfo=UTC)

NOT_VISIBLE_YET: Final[str] = (
    "transaction not found; an accepted payment becomes visible once the queue consumer has recorded it, "
    "usually well under a second after the 202, so retry shortly if you just submitted it"
)


def owned_transaction(submitter: str, tid: str, transactions: TransactionsPort) -> dict[str, Any]:
    """The transaction item if it exists and this submitter created it; ``TransactionNotFound`` otherwise.

    Another submitter's transaction is reported exactly like a missing one, so its existence never leaks.
    """
    item = transactions.get(tid) if _is_uuid(tid) else None
    if not item or item.get("submitter") != submitter:
        raise TransactionNotFound(NOT_VISIBLE_YET)
    return item


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


def _text(value: Any) -> str | None:
    return None if value is None else str(decimal_strings(value))


def _map(value: Any) -> dict[str, Any] | None:
    return decimal_strings(value) if isinstance(value, dict) else None


def payment_view(item: dict[str, Any]) -> dict[str, Any]:
    """What a submitter sees of a transaction item: its outcome, never its card token or metadata."""
    currency = str(item.get("currency", ""))
    amount = item.get("amount")
    try:
        shown_amount = format_amount(Decimal(amount), currency) if amount is not None else ""
    except (PaymentsError, ArithmeticError, TypeError, ValueError):
        shown_amount = str(amount)
    card = item.get("payment_method")
    failure = item.get("failure")
    reasons = item.get("decline_reasons")
    status = item.get("status")
    return {
        "transaction_id": item["transaction_id"],
        "status": status if status in Status.__members__ else Status.RECEIVED.value,
        "amount": shown_amount,
        "currency": currency,
        "merchant_id": str(item.get("merchant_id", "")),
        "reference": _text(item.get("reference")),
        "customer_id": _text(item.get("customer_id")),
        "payment_method": (
            {key: _text(card[key]) for key in ("type", "brand", "last4", "country") if key in card}
            if isinstance(card, dict) and "type" in card
            else None
        ),
        "decline_reasons": [str(r) for r in decimal_strings(list(reasons))]
        if isinstance(reasons, list | set)
        else [],
        "validation": _map(item.get("validation")),
        "fraud": _map(item.get("fraud")),
        "settlement": _map(item.get("settlement")),
        # The cause can carry a stack trace from inside the workflow; only the error name goes out.
        "failure": {"error": _text(failure.get("error"))} if isinstance(failure, dict) else None,
        "created_at": str(item.get("created_at", "")),
        "updated_at": str(item.get("updated_at", item.get("created_at", ""))),
    }


def audit_events(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [decimal_strings(row) for row in rows]


@dataclass(frozen=True)
class AuditWindow:
    start: datetime
    end: datetime


def audit_window(start: str | None, end: str | None, *, now: datetime) -> AuditWindow:
    """``from``/``to`` as ISO-8601; both optional, defaulting to the last hour up to now."""
    # An empty value is a bad timestamp, not an absent one.
    until = _parse_when(end, "to") if end is not None else now
    since = _parse_when(start, "from") if start is not None else until - DEFAULT_AUDIT_WINDOW
    return AuditWindow(since, until)


def _parse_when(text: str, name: str) -> datetime:
    try:
        moment = parse_iso(text).astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidRequest(f"'{name}' must be an ISO-8601 timestamp", field=name) from None
    # Far-off years would overflow the date arithmetic of the window and the day-by-day read.
    if not AUDIT_EARLIEST <= moment <= AUDIT_LATEST:
        raise InvalidRequest(f"'{name}' must be between 1970 and 9000", field=name)
    return moment


def check_day(day: str) -> str:
    try:
        datetime.strptime(day, "%Y-%m-%d")
    except ValueError:
        raise InvalidRequest("'day' must be a date as YYYY-MM-DD", field="day") from None
    return day
