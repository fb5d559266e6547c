"""What settlement's rules need of the outside world: one Protocol per port, and the values they pass.

A port's Protocol ends in ``Port``; its adapter in ``settlement_svc.dal`` (or ``payments_core``) is
named for what it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from payments_core.clock import utc_now
from payments_core.status import Status

if TYPE_CHECKING:
    from payments_core.transactions import GuardedWrite


class TransactionsPort(Protocol):
    def transition(
        self, transaction_id: str, to: Status, fields: dict[str, Any], now: str, *, attempt: str | None = None
    ) -> GuardedWrite:
        """Forward-only status write; raises TransactionNotFound for an item that was never received."""
        ...


@dataclass(frozen=True)
class SettlementPorts:
    transactions: TransactionsPort
    clock: Callable[[], datetime] = utc_now
