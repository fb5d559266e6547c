"""SQS handler: record each payment once, then run its workflow synchronously.

A record is reported in ``batchItemFailures`` (SQS delivers it again; after five receives it lands
in the DLQ) when its workflow did not succeed, a dependency failed, or its body is not a payment
message. A duplicate delivery of a payment that is done (settled or declined with every effect
in place) and a conflicting payload under a used id are handled and deleted: retrying them cannot
change anything. A payment with a final status but an effect missing runs its workflow again. Only message ids
and transaction ids are logged, never a body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from ingest_svc import bootstrap
from ingest_svc.logic.record import RecordPorts, RecordResult, record_payment
from payments_core.clock import parse_iso, utc_now
from payments_core.errors import MalformedMessage, PaymentsError, WorkflowFailed
from payments_core.ids import payload_hash, transaction_id
from payments_core.models import PaymentMessage
from payments_core.observability import get_logger, get_metrics, get_tracer

SERVICE = "ingest"
logger = get_logger(SERVICE)
tracer = get_tracer(SERVICE)
metrics = get_metrics(SERVICE)


def parse_message(record: SQSRecord) -> PaymentMessage:
    """The message body as a PaymentMessage whose id and hash match its content.

    Anything else raises ``MalformedMessage`` naming only the message id: a parse error would
    quote the body, which holds payment data.
    """
    try:
        message = PaymentMessage.model_validate(
            json.loads(record.body, parse_float=Decimal, parse_constant=Decimal)
        )
    except (ValueError, TypeError, PaymentsError):
        raise MalformedMessage(f"message {record.message_id} is not a payment message") from None
    if message.transaction_id != transaction_id(message.submitter, message.idempotency_key):
        raise MalformedMessage(f"message {record.message_id}: transaction_id does not derive from its key")
    if message.payload_hash != payload_hash(message.payment.to_document()):
        raise MalformedMessage(f"message {record.message_id}: payload_hash does not match its payment")
    try:
        parse_iso(message.received_at)
    except ValueError:
        raise MalformedMessage(f"message {record.message_id}: received_at is not an ISO-8601 time") from None
    return message


def handle_record(record: SQSRecord, *, ports: RecordPorts, remaining_seconds: Callable[[], float]) -> None:
    logger.set_correlation_id(None)
    logger.append_keys(message_id=record.message_id)
    message = parse_message(record)
    logger.set_correlation_id(message.transaction_id)
    try:
        recorded = record_payment(
            message,
            ports,
            receive_count=int(record.attributes.approximate_receive_count or 1),
            remaining_seconds=remaining_seconds,
            now=utc_now,
        )
    except WorkflowFailed as failed:
        metrics.add_metric(name="WorkflowFailures", unit=MetricUnit.Count, value=1)
        logger.warning(
            "workflow did not succeed; the message goes back to the queue", extra={"reason": str(failed)}
        )
        raise
    if recorded.result is RecordResult.CONFLICT:
        metrics.add_metric(name="IngestConflicts", unit=MetricUnit.Count, value=1)
        logger.warning("payload conflicts with the recorded transaction; message dropped")
        return
    metrics.add_metric(
        name="PaymentsIngested" if recorded.created else "IngestDuplicates", unit=MetricUnit.Count, value=1
    )
    logger.info("payment ingested", extra={"result": recorded.result.value, "new_item": recorded.created})


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A new processor per invocation: it keeps per-batch state.
    processor = BatchProcessor(
        event_type=EventType.SQS,
        raise_on_entire_batch_failure=False,
        logger=logger,  # type: ignore[arg-type]  # Powertools' Logger has the logging.Logger methods it calls
    )
    record_handler = partial(
        handle_record,
        ports=bootstrap.consumer(),
        remaining_seconds=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
