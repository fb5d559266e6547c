"""The fraud function's composition root: the only place that builds its adapters.

Built on first use and kept for the execution environment; tests swap them with
``bootstrap.fraud.override(...)``.
"""

from __future__ import annotations

from fraud_svc.dal import CustomerVelocity, FraudStore
from fraud_svc.logic import FraudPorts
from payments_core.audit import AuditWriter
from payments_core.transactions import TransactionStore
from payments_core.wiring import CompositionRoot


def _fraud_ports() -> FraudPorts:
    return FraudPorts(velocity=CustomerVelocity(), store=FraudStore(TransactionStore()), audit=AuditWriter())


fraud: CompositionRoot[FraudPorts] = CompositionRoot(_fraud_ports)
