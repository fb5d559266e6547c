"""In-memory stand-ins for the shared adapters, keeping the real guards' semantics."""

from __future__ import annotations

from typing import Any


class FakeAudit:
    """The audit writer: a row lands once per ``(transaction id, step#event)``, as the real key allows."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Any] = {}

    def append(self, event: Any) -> bool:
        key = (event.transaction_id, f"{event.step}#{event.event}")
        if key in self.rows:
            return False
        self.rows[key] = event
        return True

    def is_complete(self, transaction_id: str, status: Any) -> bool:
        """The completion marker: the final step's audit row, written last."""
        from payments_core.completion import MARKER_ROWS

        marker = MARKER_ROWS.get(status)
        return marker is not None and (transaction_id, marker) in self.rows
