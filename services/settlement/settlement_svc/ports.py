"""What settlement's rules need of the outside world: one Protocol per port, and the values they pass.

A port's Protocol ends in ``Port``; its adapter in ``settlement_svc.dal`` (or ``payments_core``) is
named for what it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from payments_core.audit import AuditPort
from payments_core.clock import utc_now
from payments_core.completion import CompletionPort
from payments_core.status import Status

if TYPE_CHECKING:
    from payments_core.transactions import GuardedWrite


class TransactionsPort(Protocol):
    def transition(self, transaction_id: str, to: Status, fields: dict[str, Any], now: str) -> GuardedWrite:
        """Forward-only status write; raises TransactionNotFound for an item that was never received."""
        ...


@dataclass(frozen=True)
class LedgerWrite:
    """What ``LedgerPort.settle`` did. When it was refused, nothing was written, and:

    ``earlier`` is the settlement record that already stood (None if there was none);
    ``status_refused`` says the transaction's guard refused, ``status`` then being its status
    (None for a transaction that was never received).
    """

    applied: bool
    earlier: dict[str, Any] | None = None
    status_refused: bool = False
    status: Status | None = None


class LedgerPort(Protocol):
    def settle(self, record: dict[str, Any], settlement: dict[str, Any], now: str) -> LedgerWrite:
        """Both or neither: put the record unless one exists, and move the transaction to SETTLED
        from an open status with ``settlement`` on it."""
        ...


@dataclass(frozen=True)
class SettlementPorts:
    transactions: TransactionsPort
    ledger: LedgerPort
    audit: AuditPort
    completion: CompletionPort
    clock: Callable[[], datetime] = utc_now
