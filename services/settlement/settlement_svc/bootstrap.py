"""The settlement service's composition roots, one per function: the only place that builds
their adapters.

Built on first use and kept for the execution environment; tests swap them with
``bootstrap.settlement.override(...)`` or ``bootstrap.archiver.override(...)``. The archive's ports
are imported by its builder: the archive function's handler has loaded them already, and the
settlement steps' cold start need not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from payments_core.transactions import TransactionStore
from payments_core.wiring import CompositionRoot
from settlement_svc.dal import ArchiveBucket, ArchiveMarks, SettlementLedger
from settlement_svc.ports import SettlementPorts

if TYPE_CHECKING:
    from settlement_svc.archiving import ArchivePorts


def _settlement_ports() -> SettlementPorts:
    return SettlementPorts(transactions=TransactionStore())


def _archive_ports() -> ArchivePorts:
    from settlement_svc.archiving import ArchivePorts

    return ArchivePorts(ledger=SettlementLedger(), objects=ArchiveBucket(), marks=ArchiveMarks())


settlement: CompositionRoot[SettlementPorts] = CompositionRoot(_settlement_ports)
archiver: CompositionRoot[ArchivePorts] = CompositionRoot(_archive_ports)
