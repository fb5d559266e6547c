"""Guarded writes to the transactions table: one write per state change of a payment.

Nobody rewrites the whole item once ingest has put it. Status moves forward only:
``RECEIVED -> SETTLED | DECLINED | FAILED`` and ``FAILED -> any of them`` (a redelivery or a DLQ
replay retries the workflow); ``SETTLED`` and ``DECLINED`` are final. The checks (validation,
fraud) write nothing: their results reach the item in the write that makes it final. A failure
is recorded once per attempt: ``FAILED -> FAILED`` is refused to the attempt that wrote it. So
every write that lands is a state change, and the stream's records are the audit trail's source
(``payments_core.audit_trail``). Every guard names ``status`` through ``ExpressionAttributeNames``:
it is a DynamoDB reserved word.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import ClientError

from payments_core.dynamo import DynamoTable, deserialize, serialize
from payments_core.errors import DependencyError, TransactionNotFound
from payments_core.status import Status

CONDITION_FAILED: Final[str] = "ConditionalCheckFailedException"

_OPEN_GUARD = "#status IN (:received, :failed)"
_OPEN_VALUES = {":received": Status.RECEIVED.value, ":failed": Status.FAILED.value}


@dataclass(frozen=True)
class GuardedWrite:
    """Whether a guarded write landed; when the guard refused it, the item as it stood then."""

    applied: bool
    item: dict[str, Any] | None = None

    @property
    def status(self) -> Status | None:
        value = (self.item or {}).get("status")
        return Status(value) if value else None


class TransactionStore(DynamoTable):
    table_setting = "transactions_table"

    def get(self, transaction_id: str) -> dict[str, Any] | None:
        """The item as plain Python (numbers as Decimal), read consistently, or None."""
        return self._get_item({"transaction_id": transaction_id}, "transactions table read")

    def _guarded_update(self, transaction_id: str, what: str, **kwargs: Any) -> GuardedWrite:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=serialize({"transaction_id": transaction_id}),
                # The refused item comes back with the error: no second read, no GetItem permission.
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **kwargs,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != CONDITION_FAILED:
                raise DependencyError(f"{what} failed") from exc
            item = exc.response.get("Item")
            return GuardedWrite(applied=False, item=deserialize(item) if item else None)
        return GuardedWrite(applied=True)

    def transition(
        self, transaction_id: str, to: Status, fields: dict[str, Any], now: str, *, attempt: str | None = None
    ) -> GuardedWrite:
        """Move the status to ``to`` from an open status, setting ``fields`` in the same write.

        A refused write carries the item, so the caller can tell a re-run (already at ``to``) from
        a real conflict. A missing item, or one without a status, was never received. With
        ``attempt`` (a failure's execution), the write is also refused when that attempt's failure
        is the one recorded.
        """
        write = self._guarded_update(
            transaction_id,
            f"moving the status to {to.value}",
            **transition_update(to, fields, now, attempt=attempt),
        )
        if not write.applied and write.status is None:
            raise TransactionNotFound(f"transaction {transaction_id} has not been received")
        return write


def transition_update(
    to: Status, fields: dict[str, Any], now: str, *, attempt: str | None = None
) -> dict[str, Any]:
    """The UpdateItem arguments that move the status to ``to`` from an open status, with ``fields``.

    With ``attempt``, ``fields["failure"]["execution"]`` is that attempt, and the guard refuses an
    item whose recorded failure is already that attempt's.
    """
    names = {"#status": "status", "#updated_at": "updated_at"}
    condition = _OPEN_GUARD
    values: dict[str, Any] = {":to": to.value, ":now": now, **_OPEN_VALUES}
    assignments = ["#status = :to", "#updated_at = :now"]
    for index, (name, value) in enumerate(fields.items()):
        names[f"#f{index}"] = name
        values[f":f{index}"] = value
        assignments.append(f"#f{index} = :f{index}")
    if attempt is not None:
        names.update({"#failure": "failure", "#execution": "execution"})
        values[":attempt"] = attempt
        condition += " AND (attribute_not_exists(#failure.#execution) OR #failure.#execution <> :attempt)"
    return {
        "UpdateExpression": "SET " + ", ".join(assignments),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": serialize(values),
    }
