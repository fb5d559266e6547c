"""When a payment is done: every effect exists, not merely a final status.

A settled payment's effects are written in order: the settlement record and the SETTLED status
(one transaction), then the ``settlement#settled`` audit row; its archive entry is derived from
the SETTLED status through the transactions table's stream, which retries until it lands. A
declined payment's are the DECLINED status, then the ``settlement#declined`` row. Each final
step writes its audit row last, so that row is the completion marker: when it exists, everything
before it does too. It costs no write of its own (the row was always written, conditionally, once), and it
is read only off the happy path: when a redelivered or replayed message finds a final status,
and when the failure path finds one.
"""

from __future__ import annotations

from typing import Final, Protocol

from botocore.exceptions import ClientError

from payments_core.dynamo import DynamoTable, serialize
from payments_core.errors import DependencyError
from payments_core.status import Status

# The audit row each final status's step writes last (audit keys are "<step>#<event>").
MARKER_ROWS: Final[dict[Status, str]] = {
    Status.SETTLED: "settlement#settled",
    Status.DECLINED: "settlement#declined",
}


class CompletionPort(Protocol):
    def is_complete(self, transaction_id: str, status: Status) -> bool:
        """Whether every effect of this final status exists (False for a status that is not final)."""
        ...


class CompletionMarkers(DynamoTable):
    """Reads the marker row: one consistent GetItem, projected to its key."""

    table_setting = "audit_table"

    def is_complete(self, transaction_id: str, status: Status) -> bool:
        marker = MARKER_ROWS.get(Status(status))
        if marker is None:
            return False
        try:
            response = self._client.get_item(
                TableName=self._table,
                Key=serialize({"pk": transaction_id, "sk": marker}),
                ConsistentRead=True,
                ProjectionExpression="pk",
            )
        except ClientError as exc:
            raise DependencyError("audit table read failed") from exc
        return "Item" in response
