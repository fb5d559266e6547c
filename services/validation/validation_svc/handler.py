"""Validate task of the payment workflow: Payload in, ``{"outcome", "reasons", "checked_at"}`` out."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments_core.audit import AuditWriter
from payments_core.observability import get_logger, get_metrics, get_tracer
from validation_svc.dal import ValidationStore
from validation_svc.logic import validate_payment
from validation_svc.models import ValidationRequest

SERVICE = "validation"

logger = get_logger(SERVICE)
tracer = get_tracer(SERVICE)
metrics = get_metrics(SERVICE)


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="transaction_id")
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ValidationRequest.model_validate(event)
    validated = validate_payment(request, store=ValidationStore(), audit=AuditWriter())
    result = validated.result
    tracer.put_annotation("outcome", result.outcome)
    if validated.first_time:
        name = "ValidationPassed" if result.outcome == "PASS" else "ValidationFailed"
    else:
        # Express runs a step at least once; a high rate of re-runs points at retries upstream.
        name = "ValidationReplayed"
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    logger.info("validation completed", extra={"outcome": result.outcome, "reasons": result.reasons})
    return result.model_dump()
