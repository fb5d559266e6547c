"""The validation step's only AWS access: its map on the transaction item, and the audit table."""

from __future__ import annotations

from typing import Any

from payments_core.clock import now_iso
from payments_core.observability import get_tracer
from payments_core.transactions import TransactionStore

ATTRIBUTE = "validation"

tracer = get_tracer("validation")


class ValidationStore:
    """Writes only ``SET validation = :v, updated_at = :now``, never the rest of the item."""

    def __init__(self, transactions: TransactionStore) -> None:
        self._transactions = transactions

    @tracer.capture_method(capture_response=False)
    def record(self, transaction_id: str, result: dict[str, Any]) -> dict[str, Any] | None:
        return self._transactions.record_check(transaction_id, ATTRIBUTE, result, now_iso())
