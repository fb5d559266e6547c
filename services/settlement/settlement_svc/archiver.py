"""DynamoDB stream handler: the transactions that became SETTLED, recorded and archived in batches.

The event source's filter delivers only records whose new image is SETTLED. As for the audit
counters, the tumbling window is there only because that is how Lambda names the batch's stream
shard (``shardId``), which the exactly-once mark is kept per; its state is never used.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments_core.dynamo import deserialize
from payments_core.observability import get_logger, get_metrics, stream_task
from payments_core.status import Status
from payments_core.streams import sequence, shard_id_of
from settlement_svc import bootstrap
from settlement_svc.archiving import SettledRecord, archive_batch

SERVICE = "archive"
logger = get_logger(SERVICE)
metrics = get_metrics(SERVICE)


def settled_records(records: list[dict[str, Any]]) -> list[SettledRecord]:
    """The records whose new image is a SETTLED transaction with its settlement."""
    settled = []
    for record in records:
        image = deserialize(record.get("dynamodb", {}).get("NewImage") or {})
        if image.get("status") == Status.SETTLED.value and isinstance(image.get("settlement"), dict):
            settled.append(SettledRecord(sequence(record), image))
    return settled


@stream_task(SERVICE)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    shard_id = shard_id_of(event)
    ports = bootstrap.archiver()
    records = settled_records(list(event.get("Records") or []))
    archived = archive_batch(shard_id, records, ledger=ports.ledger, objects=ports.objects, marks=ports.marks)
    metrics.add_metric(name="PaymentsArchived", unit=MetricUnit.Count, value=archived)
    logger.info("settlements archived", extra={"shard_id": shard_id, "archived": archived})
    # A tumbling-window source treats a response without "state" as a failed invocation.
    return {"state": {}}
