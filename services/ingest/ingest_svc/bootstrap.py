"""The ingest functions' composition root: the only place that builds their adapters.

One root per function (the API, the queue consumer, the audit trail and its counters), each built on first use
and kept for the execution environment. Tests swap a function's adapters with
``bootstrap.<function>.override(...)``. This one module serves four functions, so each builder
imports its own adapters: no function's cold start loads another's (the counters load neither
pydantic nor the API's idempotency store, the consumer not the API's audit reader).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from payments_core.audit import AuditCounters
from payments_core.audit_trail import AuditTrail
from payments_core.wiring import CompositionRoot

if TYPE_CHECKING:
    from ingest_svc.logic.accept import AcceptPorts
    from ingest_svc.logic.ports import TransactionsPort
    from ingest_svc.logic.record import RecordPorts
    from payments_core.audit_reader import AuditReadPort


@dataclass(frozen=True)
class ApiPorts:
    accept: AcceptPorts
    transactions: TransactionsPort
    audit: AuditReadPort


def _api_ports() -> ApiPorts:
    from ingest_svc.dal.idempotency import IdempotencyStore
    from ingest_svc.dal.queue import PaymentsQueue
    from ingest_svc.dal.transactions import TransactionsTable
    from ingest_svc.logic.accept import AcceptPorts
    from payments_core.audit_reader import AuditReader

    transactions = TransactionsTable()
    return ApiPorts(
        accept=AcceptPorts(idempotency=IdempotencyStore(), queue=PaymentsQueue(), recorded=transactions),
        transactions=transactions,
        audit=AuditReader(),
    )


def _consumer_ports() -> RecordPorts:
    from ingest_svc.dal.transactions import TransactionsTable
    from ingest_svc.dal.workflow import Workflow
    from ingest_svc.logic.record import RecordPorts
    from payments_core.audit import AuditWriter

    return RecordPorts(transactions=TransactionsTable(), audit=AuditWriter(), workflow=Workflow())


api: CompositionRoot[ApiPorts] = CompositionRoot(_api_ports)
consumer: CompositionRoot[RecordPorts] = CompositionRoot(_consumer_ports)
audit_trail: CompositionRoot[AuditTrail] = CompositionRoot(AuditTrail)
counters: CompositionRoot[AuditCounters] = CompositionRoot(AuditCounters)
