"""Validate task of the payment workflow: Payload in, ``{"outcome", "reasons", "checked_at"}`` out."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments_core.observability import get_logger, get_metrics, get_tracer, workflow_task
from validation_svc.logic import validate_payment
from validation_svc.models import ValidationRequest

SERVICE = "validation"

logger = get_logger(SERVICE)
tracer = get_tracer(SERVICE)
metrics = get_metrics(SERVICE)


@workflow_task(SERVICE)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = ValidationRequest.model_validate(event)
    result = validate_payment(request)
    tracer.put_annotation("outcome", result.outcome)
    # Counted per run: a retried attempt checks again. The exact count per payment is the audit
    # trail's daily counter.
    name = "ValidationPassed" if result.outcome == "PASS" else "ValidationFailed"
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    logger.info("validation completed", extra={"outcome": result.outcome, "reasons": result.reasons})
    return result.model_dump()
