"""What the demo and the benchmark measure: terminal payments from the audit counters, and latencies."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from payctl.operator.status import COUNTER_PREFIX, DEFAULT_AUDIT_SHARDS, audit_counters

if TYPE_CHECKING:
    from payctl.runtime.stack import Stack

# The audit action the settlement step writes when a payment reaches each terminal status.
TERMINAL_ACTIONS = {"payment.settled": "SETTLED", "payment.declined": "DECLINED", "payment.failed": "FAILED"}
TERMINAL_STATUSES = frozenset(TERMINAL_ACTIONS.values())
_BATCH_GET_LIMIT = 100


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def audit_shards(stack: Stack) -> int:
    """The deployed shard count (the AuditShards parameter, as the functions see it)."""
    return int(stack.functions["ValidationFunction"].env.get("AUDIT_SHARDS", DEFAULT_AUDIT_SHARDS))


def counters_over(dynamodb: Any, audit_table: str, days: Iterable[str], shards: int) -> Counter[str]:
    """The audit counters by action, summed over the given days (a run can cross midnight UTC)."""
    totals: Counter[str] = Counter()
    for day in sorted(days):
        totals.update(audit_counters(dynamodb, audit_table, day, shards))
    return totals


def terminal_counts(dynamodb: Any, audit_table: str, days: Iterable[str], shards: int) -> dict[str, int]:
    """Payments counted terminal by the audit table, by status.

    The terminal counter items have known keys (day, shard, action), so one BatchGetItem per 100
    keys reads them all; the demo and the benchmark poll this while the pipeline runs, and a query
    per shard would spend the CPU they are measuring.
    """
    keys = [
        {"pk": {"S": f"{COUNTER_PREFIX}{day}#{shard:02d}"}, "sk": {"S": action}}
        for day in sorted(days)
        for shard in range(shards)
        for action in TERMINAL_ACTIONS
    ]
    counts = dict.fromkeys(TERMINAL_ACTIONS.values(), 0)
    for start in range(0, len(keys), _BATCH_GET_LIMIT):
        # DynamoDB hands unprocessed keys back with the projection, ready to send again.
        pending: dict[str, Any] = {
            audit_table: {
                "Keys": keys[start : start + _BATCH_GET_LIMIT],
                "ProjectionExpression": "sk, #c",
                "ExpressionAttributeNames": {"#c": "count"},
            }
        }
        while pending:
            response = dynamodb.batch_get_item(RequestItems=pending)
            for item in response.get("Responses", {}).get(audit_table, []):
                counts[TERMINAL_ACTIONS[item["sk"]["S"]]] += int(item["count"]["N"])
            pending = response.get("UnprocessedKeys") or {}
    return counts


def timestamp(iso: str) -> float:
    """Seconds since the epoch of an item's ISO 8601 time (``...Z``, which 3.11 parses)."""
    return datetime.fromisoformat(iso).timestamp()
