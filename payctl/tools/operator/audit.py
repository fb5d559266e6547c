"""Operator actions on a payment, appended to its audit trail with the product's own audit writer."""

from __future__ import annotations

from typing import Any

from payments_core.audit import AuditEvent, AuditWriter

ACTOR = "operator"


class OperatorAudit:
    def __init__(self, dynamodb: Any, table: str, shards: int) -> None:
        self._writer = AuditWriter(table_name=table, shards=shards, dynamodb=dynamodb)

    def replayed(
        self, transaction_id: str, operator: str, old_message_id: str, new_message_id: str, reason: str | None
    ) -> bool:
        # Keyed by the DLQ message id: retrying this replay's audit write lands once.
        return self._writer.append(
            AuditEvent(
                transaction_id=transaction_id,
                step="operator",
                event=f"dlq_replayed#{old_message_id}",
                action="operator.dlq_replayed",
                actor=f"{ACTOR}:{operator}",
                detail={
                    "operator": operator,
                    "old_message_id": old_message_id,
                    "new_message_id": new_message_id,
                    "failure_reason": reason or "",
                },
            )
        )

    def dropped(self, transaction_id: str, operator: str, message_id: str, reason: str | None) -> bool:
        return self._writer.append(
            AuditEvent(
                transaction_id=transaction_id,
                step="operator",
                event=f"dlq_dropped#{message_id}",
                action="operator.dlq_dropped",
                actor=f"{ACTOR}:{operator}",
                detail={"operator": operator, "message_id": message_id, "failure_reason": reason or ""},
            )
        )
