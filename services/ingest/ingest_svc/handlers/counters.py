"""DynamoDB stream handler: the audit table's new rows, added once each to the day's counters.

The event source has a tumbling window only because that is how Lambda tells a handler which
stream shard a batch came from (``shardId``); the counts are written on every batch, never kept
in the window's state, and the state returned is empty. See ``payments_core.audit`` for how the
shard's high-water mark makes a redelivered batch count nothing.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ingest_svc import bootstrap
from payments_core.observability import get_logger, get_metrics, stream_task
from payments_core.streams import shard_id_of

SERVICE = "audit-counters"
logger = get_logger(SERVICE)
metrics = get_metrics(SERVICE)


@stream_task(SERVICE)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    shard_id = shard_id_of(event)
    counted = bootstrap.counters().count(shard_id, list(event.get("Records") or []))
    metrics.add_metric(name="AuditRowsCounted", unit=MetricUnit.Count, value=counted)
    logger.info("audit rows counted", extra={"shard_id": shard_id, "counted": counted})
    # A tumbling-window source treats a response without "state" as a failed invocation.
    return {"state": {}}
