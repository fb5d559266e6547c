"""The settlement function's composition root: the only place that builds its adapters.

Built on first use and kept for the execution environment; tests swap them with
``bootstrap.settlement.override(...)``.
"""

from __future__ import annotations

from payments_core.audit import AuditWriter
from payments_core.completion import CompletionMarkers
from payments_core.transactions import TransactionStore
from payments_core.wiring import CompositionRoot
from settlement_svc.dal import ArchiveBucket, SettlementLedger
from settlement_svc.ports import SettlementPorts


def _settlement_ports() -> SettlementPorts:
    return SettlementPorts(
        transactions=TransactionStore(),
        ledger=SettlementLedger(),
        archive=ArchiveBucket(),
        audit=AuditWriter(),
        completion=CompletionMarkers(),
    )


settlement: CompositionRoot[SettlementPorts] = CompositionRoot(_settlement_ports)
