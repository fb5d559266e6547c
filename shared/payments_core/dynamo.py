"""DynamoDB value conversion. Numbers are Decimal both ways; a float is a bug and is refused."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

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
