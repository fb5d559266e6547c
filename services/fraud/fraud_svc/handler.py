"""ScoreFraud task of the workflow: Payload in, ``{"outcome", "score", "reasons", "checked_at"}`` out."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from fraud_svc import bootstrap
from fraud_svc.logic import score_payment
from fraud_svc.models import FraudRequest
from payments_core.observability import get_logger, get_metrics, get_tracer, workflow_task

SERVICE = "fraud"

logger = get_logger(SERVICE)
tracer = get_tracer(SERVICE)
metrics = get_metrics(SERVICE)


@workflow_task(SERVICE)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = FraudRequest.model_validate(event)
    result = score_payment(request, bootstrap.fraud())
    tracer.put_annotation("outcome", result.outcome)
    # Counted per run: a retried attempt scores again. The exact count per payment is the audit
    # trail's daily counter.
    name = "FraudDeclined" if result.outcome == "DECLINE" else "FraudApproved"
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    logger.info(
        "fraud scored", extra={"outcome": result.outcome, "score": result.score, "reasons": result.reasons}
    )
    return result.model_dump()
