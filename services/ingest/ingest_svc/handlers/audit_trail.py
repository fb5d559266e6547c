"""DynamoDB stream handler: the transactions table's state changes, written as audit rows.

Every record of the stream is one state change of a payment; ``payments_core.audit_trail`` says
which rows it stands for. The rows are put as they are derived, so a redelivered batch writes the
same rows again and nothing needs a mark: no tumbling window, no state. The audit table's own
stream then counts each new row once (``handlers.counters``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ingest_svc import bootstrap
from payments_core.observability import get_logger, get_metrics, stream_task

SERVICE = "audit-trail"
logger = get_logger(SERVICE)
metrics = get_metrics(SERVICE)


@stream_task(SERVICE)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    records = list(event.get("Records") or [])
    writer = bootstrap.audit_trail()
    trail = writer.derive(records)
    if trail.unreadable:
        # Only a hand edit leaves such an item; it must not stop the trail of every other payment.
        metrics.add_metric(name="UnreadableStateChanges", unit=MetricUnit.Count, value=len(trail.unreadable))
        logger.error("state changes with no audit row", extra={"transaction_ids": trail.unreadable})
    written = writer.write(trail)
    metrics.add_metric(name="AuditRowsWritten", unit=MetricUnit.Count, value=written)
    logger.info("audit rows written", extra={"records": len(records), "rows": written})
