"""Guarded writes to the transactions table shared by the workflow steps.

Nobody rewrites the whole item once ingest has put it. A check (validation, fraud) sets only its
own map, so the parallel branches cannot overwrite each other whichever finishes first. Status
moves forward only: ``RECEIVED -> SETTLED | DECLINED | FAILED`` and ``FAILED -> any of them``
(a redelivery or a DLQ replay retries the workflow); ``SETTLED`` and ``DECLINED`` are final.
Every guard names ``status`` through ``ExpressionAttributeNames``: it is a DynamoDB reserved word.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Protocol

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


class ResultPort(Protocol):
    """What a check's logic needs to store its result: the step's store, or a fake in tests."""

    def record(self, transaction_id: str, result: dict[str, Any]) -> dict[str, Any] | None:
        """Store the result on the transaction.

        When the transaction is already final nothing is written, and the result stored by the
        earlier run is returned instead (None if it holds none).
        """
        ...


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

    def record_check(
        self, transaction_id: str, attribute: str, result: dict[str, Any], now: str
    ) -> dict[str, Any] | None:
        """``SET <attribute> = :result``; refused only when the transaction is already final.

        Returns None when the result was stored; when the write was refused, the result an earlier
        run stored under ``attribute`` (None if it holds none). An absent status is allowed:
        UpdateItem creates the item, so a branch that runs before ingest's item is visible still
        lands its result.
        """
        write = self._guarded_update(
            transaction_id,
            f"recording {attribute}",
            UpdateExpression="SET #check = :check, #updated_at = :now",
            ConditionExpression=f"attribute_not_exists(#status) OR {_OPEN_GUARD}",
            ExpressionAttributeNames={"#check": attribute, "#updated_at": "updated_at", "#status": "status"},
            ExpressionAttributeValues=serialize({":check": result, ":now": now, **_OPEN_VALUES}),
        )
        if write.applied or write.item is None:
            return None
        earlier = write.item.get(attribute)
        return earlier if isinstance(earlier, dict) else None

    def transition(self, transaction_id: str, to: Status, fields: dict[str, Any], now: str) -> GuardedWrite:
        """Move the status to ``to`` from an open status, setting ``fields`` in the same write.

        A refused write carries the item, so the caller can tell a re-run (already at ``to``) from
        a real conflict. A missing item, or one without a status, was never received.
        """
        write = self._guarded_update(
            transaction_id, f"moving the status to {to.value}", **transition_update(to, fields, now)
        )
        if not write.applied and write.status is None:
            raise TransactionNotFound(f"transaction {transaction_id} has not been received")
        return write


def transition_update(to: Status, fields: dict[str, Any], now: str) -> dict[str, Any]:
    """The UpdateItem arguments that move the status to ``to`` from an open status, with ``fields``.

    Also the ``Update`` of a TransactWriteItems that moves the status together with another write.
    """
    names = {"#status": "status", "#updated_at": "updated_at"}
    values: dict[str, Any] = {":to": to.value, ":now": now, **_OPEN_VALUES}
    assignments = ["#status = :to", "#updated_at = :now"]
    for index, (name, value) in enumerate(fields.items()):
        names[f"#f{index}"] = name
        values[f":f{index}"] = value
        assignments.append(f"#f{index} = :f{index}")
    return {
        "UpdateExpression": "SET " + ", ".join(assignments),
        "ConditionExpression": _OPEN_GUARD,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": serialize(values),
    }
