"""Exactly-once work from a DynamoDB stream: a per-shard high-water mark.

Stream delivery is at least once, and a failed batch comes back whole. A function that must
apply each record once keeps, per stream shard, the sequence number of the last record it has
applied, and moves that mark with a guard on its old value: a record at or below the mark is
already applied, and two writers of one shard cannot both move it. Where the effect is a
DynamoDB write, the mark moves in the same TransactWriteItems; where it is not (an S3 object),
the effect must be idempotent and tell how far it reached, so that a re-run after a crash
between the effect and the mark moves the mark without doing the effect again.

The marks live in the audit table's ``counter#hwm`` partition, one item per function and shard.
"""

from __future__ import annotations

from typing import Any, Final

from payments_core.dynamo import serialize
from payments_core.errors import MalformedMessage

# The marks' partition; "counter#" keeps them inside the counters' UpdateItem grant.
HIGH_WATER_MARKS: Final = "counter#hwm"
# Stream sequence numbers are decimal strings of up to 40 digits; padded, they compare as strings.
_SEQUENCE_DIGITS: Final = 40


def shard_id_of(event: dict[str, Any]) -> str:
    """The stream shard a batch came from; Lambda names it only to a tumbling-window function."""
    shard_id = event.get("shardId")
    if not shard_id:
        # Without the shard there is no mark to check: the work would be at least once, not once.
        raise MalformedMessage("the stream event names no shardId; the event source needs a tumbling window")
    return str(shard_id)


def sequence(record: dict[str, Any]) -> str:
    """The record's sequence number, padded so that string order is stream order."""
    return str(record["dynamodb"]["SequenceNumber"]).zfill(_SEQUENCE_DIGITS)


def mark_key(shard_id: str, owner: str = "") -> dict[str, str]:
    """The mark item's key; ``owner`` tells apart functions that read different streams."""
    return {"pk": HIGH_WATER_MARKS, "sk": f"{owner}#{shard_id}" if owner else shard_id}


def mark_update(table: str, key: dict[str, str], mark: str | None, last: str) -> dict[str, Any]:
    """Move the mark from ``mark`` (None: never set) to ``last``: an UpdateItem's arguments, also
    the ``Update`` of a TransactWriteItems. Refused when another writer moved it first."""
    guard = "attribute_not_exists(#sequence)" if mark is None else "#sequence = :mark"
    values: dict[str, Any] = {":last": last} if mark is None else {":last": last, ":mark": mark}
    return {
        "TableName": table,
        "Key": serialize(key),
        "UpdateExpression": "SET #sequence = :last",
        "ConditionExpression": guard,
        "ExpressionAttributeNames": {"#sequence": "sequence"},
        "ExpressionAttributeValues": serialize(values),
    }
