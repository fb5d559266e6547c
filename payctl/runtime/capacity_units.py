"""DynamoDB capacity units as AWS bills them (shim 16, :mod:`payctl.runtime.metering`): item and
attribute sizes by the developer guide's rules, the write units of an item before and after a
request (global indexes included), and the read units of what a request returned."""

from __future__ import annotations

import base64
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
SINGLE_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})


def _number_size(text: str) -> int:
    digits = text.lstrip("+-").replace(".", "").split("e")[0].split("E")[0].strip("0")
    return math.ceil(max(1, len(digits)) / 2) + 1


def value_size(value: dict[str, Any]) -> int:
    """DynamoDB's size of one AttributeValue, by the rules in the developer guide."""
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return _number_size(inner)
    if kind == "B":
        return len(base64.b64decode(inner)) if isinstance(inner, str) else len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(_number_size(n) for n in inner)
    if kind == "BS":
        return sum(len(base64.b64decode(b)) if isinstance(b, str) else len(b) for b in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    raise ValueError(f"unknown attribute type {kind!r}")


def item_size(attributes: dict[str, Any]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in attributes.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return units / (1 if consistent else 2)


@dataclass(frozen=True)
class _IndexEntry:
    keys: str
    projected: str
    size: int


@dataclass(frozen=True)
class Footprint:
    """An item's size and its entry in each global index (None where it has no entry)."""

    size: int
    indexes: dict[str, _IndexEntry | None]


def footprint(table: Any, key: dict[str, Any]) -> Footprint | None:
    hash_key = table.hash_key_attr
    range_key = table.range_key_attr
    from moto.dynamodb.models.dynamo_type import DynamoType

    item = table.get_item(
        DynamoType(key[hash_key]), DynamoType(key[range_key]) if range_key and range_key in key else None
    )
    if item is None:
        return None
    attributes = item.to_json()["Attributes"]
    indexes: dict[str, _IndexEntry | None] = {}
    for index in table.global_indexes:
        names = [k["AttributeName"] for k in index.schema]
        if not all(name in attributes for name in names):
            indexes[index.name] = None
            continue
        projected = index.project(item).to_json()["Attributes"]
        indexes[index.name] = _IndexEntry(
            keys=json.dumps([attributes[n] for n in names], sort_keys=True),
            projected=json.dumps(projected, sort_keys=True),
            size=item_size(projected),
        )
    return Footprint(item_size(attributes), indexes)


def _index_units(before: Footprint | None, after: Footprint | None) -> dict[str, float]:
    units: dict[str, float] = {}
    names = set((before.indexes if before else {}) | (after.indexes if after else {}))
    for name in names:
        old = before.indexes.get(name) if before else None
        new = after.indexes.get(name) if after else None
        if old is None and new is None:
            continue
        if old is None or new is None:
            units[name] = write_units((old or new).size)  # type: ignore[union-attr]
        elif old.keys != new.keys:
            units[name] = write_units(old.size) + write_units(new.size)
        elif old.projected != new.projected:
            units[name] = write_units(max(old.size, new.size))
    return units


def item_write_units(
    before: Footprint | None, after: Footprint | None, *, applied: bool, transactional: bool
) -> dict[str, float]:
    sizes = [f.size for f in (before, after) if f is not None]
    base = write_units(max(sizes, default=0))
    units: dict[str, float] = {"table": base * (2 if transactional else 1)}
    if applied:
        units.update(_index_units(before, after))
    return units


def key_of(table: Any, attributes: dict[str, Any]) -> dict[str, Any]:
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    return {name: attributes[name] for name in names if name in attributes}


def planned_writes(params: dict[str, Any], operation: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(table name, kind, key or item) for each item the request may write."""
    if operation in SINGLE_WRITES:
        return [(params["TableName"], operation, params.get("Key") or params.get("Item") or {})]
    if operation == "BatchWriteItem":
        writes = []
        for table, requests in (params.get("RequestItems") or {}).items():
            for request in requests:
                if "PutRequest" in request:
                    writes.append((table, "PutItem", request["PutRequest"]["Item"]))
                elif "DeleteRequest" in request:
                    writes.append((table, "DeleteItem", request["DeleteRequest"]["Key"]))
        return writes
    if operation == "TransactWriteItems":
        writes = []
        for entry in params.get("TransactItems") or []:
            kind, op = next(iter(entry.items()))
            writes.append((op["TableName"], kind, op.get("Key") or op.get("Item") or {}))
        return writes
    return []


def response_read_units(params: dict[str, Any], operation: str, response_body: bytes) -> dict[str, float]:
    try:
        response = json.loads(response_body or b"{}")
    except ValueError:
        return {}
    units: dict[str, float] = defaultdict(float)
    if operation == "GetItem":
        size = item_size(response.get("Item") or {})
        units[params["TableName"]] += read_units(size, bool(params.get("ConsistentRead")))
    elif operation in ("Query", "Scan"):
        size = sum(item_size(item) for item in response.get("Items") or [])
        units[params["TableName"]] += read_units(size, bool(params.get("ConsistentRead")))
    elif operation == "BatchGetItem":
        for table, items in (response.get("Responses") or {}).items():
            consistent = bool((params.get("RequestItems") or {}).get(table, {}).get("ConsistentRead"))
            requested = len((params.get("RequestItems") or {}).get(table, {}).get("Keys") or [])
            missing = max(0, requested - len(items))
            for item in items:
                units[table] += read_units(item_size(item), consistent)
            units[table] += missing * read_units(0, consistent)
    elif operation == "TransactGetItems":
        for entry, item in zip(
            params.get("TransactItems") or [], response.get("Responses") or [], strict=False
        ):
            table = entry["Get"]["TableName"]
            units[table] += 2 * read_units(item_size((item or {}).get("Item") or {}), True)
    return dict(units)
