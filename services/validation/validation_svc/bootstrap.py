"""The validation function's composition root: the only place that builds its adapters.

Built on first use and kept for the execution environment; tests swap them with
``bootstrap.validation.override(...)``.
"""

from __future__ import annotations

from payments_core.audit import AuditWriter
from payments_core.transactions import TransactionStore
from payments_core.wiring import CompositionRoot
from validation_svc.dal import ValidationStore
from validation_svc.logic import ValidationPorts


def _validation_ports() -> ValidationPorts:
    return ValidationPorts(store=ValidationStore(TransactionStore()), audit=AuditWriter())


validation: CompositionRoot[ValidationPorts] = CompositionRoot(_validation_ports)
