"""Which payment an AWS call, a Lambda event or an SQS message concerns: how a fault plan's rule
narrows to one transaction id (shim 4, :mod:`payctl.runtime.faults`)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_UUID_AT_START = re.compile(f"^({_UUID})")
_ARCHIVE_KEY = re.compile(f"/({_UUID})\\.json$")
_TRANSACTION_ID_KEYS: Final = ("transaction_id", "pk")


def _plain(value: Any) -> str | None:
    """A string, or the string inside an AttributeValue / message attribute."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        for key in ("S", "StringValue", "stringValue"):
            if isinstance(value.get(key), str):
                return str(value[key])
    return None


def _find_transaction_id(value: Any, depth: int = 0) -> str | None:
    if depth > 6:
        return None
    if isinstance(value, Mapping):
        for key in _TRANSACTION_ID_KEYS:
            found = _plain(value.get(key))
            if found and _UUID_AT_START.match(found):
                return found
        for child in value.values():
            found = _find_transaction_id(child, depth + 1)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for child in value:
            found = _find_transaction_id(child, depth + 1)
            if found:
                return found
    return None


def transaction_id_of(service: str, operation: str, params: Mapping[str, Any]) -> str | None:
    """The payment an AWS call is about, from its parameters (None when it is about none)."""
    if service == "s3":
        match = _ARCHIVE_KEY.search(str(params.get("Key", "")))
        return match.group(1) if match else None
    if service == "stepfunctions":
        match = _UUID_AT_START.match(str(params.get("name", "")))
        if match:
            return match.group(1)
        return transaction_id_of_event(_json(params.get("input")))
    if service == "lambda":
        return transaction_id_of_event(_json(params.get("Payload")))
    if service == "sqs":
        entry = (params.get("Entries") or [params])[0]
        return transaction_id_of_message(entry) if isinstance(entry, Mapping) else None
    if service == "dynamodb" and operation == "Query":
        values = params.get("ExpressionAttributeValues") or {}
        return _find_transaction_id({"transaction_id": values.get(":self") or values.get(":pk")})
    return _find_transaction_id(params)


def _json(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def transaction_id_of_event(event: Any) -> str | None:
    """The payment a Lambda event is about: a workflow step's Payload, or an SQS batch's first record."""
    if not isinstance(event, Mapping):
        return None
    direct = _plain(event.get("transaction_id"))
    if direct:
        return direct
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], Mapping):
        record = records[0]
        attribute = _plain((record.get("messageAttributes") or {}).get("transaction_id"))
        return attribute or _find_transaction_id(_json(record.get("body")))
    return None


def transaction_id_of_message(message: Mapping[str, Any]) -> str | None:
    """The payment of an SQS message, received or being sent (attributes first, then the body)."""
    attribute = _plain((message.get("MessageAttributes") or {}).get("transaction_id"))
    body = message.get("Body", message.get("MessageBody"))
    return attribute or _find_transaction_id(_json(body))
