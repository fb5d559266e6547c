"""DynamoDB value conversion and the table handle the data-access classes share.

Numbers are Decimal both ways; a float is a bug and is refused.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar, Final

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from payments_core import aws
from payments_core.errors import DependencyError
from payments_core.settings import get_settings

# BatchWriteItem takes at most 25 requests; what DynamoDB leaves unprocessed is sent again a few
# times with a short backoff before the write fails as a dependency error (the caller's batch is
# retried whole).
BATCH_WRITE_LIMIT: Final = 25
_BATCH_WRITE_ATTEMPTS: Final = 4
_BATCH_WRITE_BACKOFF_SECONDS: Final = 0.05

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_dynamo(value: Any) -> Any:
    """A plain document ready for the boto3 resource layer: Decimals kept, floats rejected, None dropped."""
    if isinstance(value, float):
        raise TypeError("float reached DynamoDB; money must be Decimal")
    if isinstance(value, dict):
        return {k: to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [to_dynamo(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    raise TypeError(f"unsupported DynamoDB value type {type(value).__name__}")


def serialize(document: dict[str, Any]) -> dict[str, Any]:
    """Low-level AttributeValue map (for client calls such as TransactWriteItems)."""
    return {k: _serializer.serialize(v) for k, v in to_dynamo(document).items()}


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def from_dynamo(value: Any) -> Any:
    """JSON-friendly copy of a resource-layer item: integral Decimals become int, others stay Decimal."""
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [from_dynamo(v) for v in value]
    if isinstance(value, Decimal) and value == value.to_integral_value() and value.as_tuple().exponent == 0:
        return int(value)
    return value


class DynamoTable:
    """One table through the low-level client; the name defaults to the setting ``table_setting``.

    The client is resolved on each call, not at construction, so nothing touches AWS at import.
    """

    table_setting: ClassVar[str]

    def __init__(self, table_name: str | None = None, dynamodb: Any = None) -> None:
        self._table = table_name or get_settings().require(self.table_setting)
        self._dynamodb = dynamodb

    @property
    def _client(self) -> Any:
        return self._dynamodb or aws.client("dynamodb")

    def _get_item(
        self, key: dict[str, Any], what: str, attributes: Sequence[str] = ()
    ) -> dict[str, Any] | None:
        """The item as plain Python (numbers as Decimal), read consistently, or None.

        With ``attributes``, only those are read (every name goes through ExpressionAttributeNames,
        so reserved words such as ``status`` need no care).
        """
        request: dict[str, Any] = {"TableName": self._table, "Key": serialize(key), "ConsistentRead": True}
        if attributes:
            names = {f"#a{i}": name for i, name in enumerate(attributes)}
            request["ProjectionExpression"] = ", ".join(names)
            request["ExpressionAttributeNames"] = names
        try:
            response = self._client.get_item(**request)
        except ClientError as exc:
            raise DependencyError(f"{what} failed") from exc
        item = response.get("Item")
        return deserialize(item) if item else None

    def _put_batch(self, items: Sequence[dict[str, Any]], key: Sequence[str], what: str) -> int:
        """Put every item with BatchWriteItem, 25 a call; the number of distinct items written.

        Only for items whose content is fixed by their key (a put that lands twice writes the same
        item): BatchWriteItem takes no condition. Items with the same key are sent once, since one
        call refuses a key twice.
        """
        unique = {tuple(str(item[name]) for name in key): item for item in items}
        pending = [{"PutRequest": {"Item": serialize(item)}} for item in unique.values()]
        for start in range(0, len(pending), BATCH_WRITE_LIMIT):
            request = {self._table: pending[start : start + BATCH_WRITE_LIMIT]}
            for attempt in range(_BATCH_WRITE_ATTEMPTS):
                if attempt:
                    time.sleep(_BATCH_WRITE_BACKOFF_SECONDS * 2**attempt)
                try:
                    response = self._client.batch_write_item(RequestItems=request)
                except ClientError as exc:
                    raise DependencyError(f"{what} failed") from exc
                request = response.get("UnprocessedItems") or {}
                if not request.get(self._table):
                    break
            else:
                raise DependencyError(f"{what} throttled; retry")
        return len(unique)
