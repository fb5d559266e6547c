"""Settle / Decline / RecordFailure tasks of the payment workflow, selected by the Payload's ``action``.

Returns ``{"transaction_id", "status": "SETTLED"|"DECLINED"|"FAILED", ...}`` with the settlement,
the decline reasons or the recorded failure, and ``replayed`` when an earlier run already did it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments_core.observability import get_logger, get_metrics, get_tracer, workflow_task
from payments_core.status import Status
from settlement_svc import bootstrap
from settlement_svc.logic import process
from settlement_svc.models import read_request

SERVICE = "settlement"

logger = get_logger(SERVICE)
tracer = get_tracer(SERVICE)
metrics = get_metrics(SERVICE)

METRIC_BY_STATUS = {
    Status.SETTLED: "PaymentsSettled",
    Status.DECLINED: "PaymentsDeclined",
    Status.FAILED: "PaymentsFailed",
}


@workflow_task(SERVICE)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = read_request(event)
    logger.append_keys(action=request.action)
    tracer.put_annotation("action", request.action)
    outcome = process(request, bootstrap.settlement())
    # Express runs a step at least once; a high rate of re-runs points at retries upstream.
    name = METRIC_BY_STATUS[outcome.status] if outcome.first_time else "SettlementReplayed"
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    logger.info(
        "settlement step completed",
        extra={"status": outcome.status.value, "replayed": not outcome.first_time},
    )
    return {
        "transaction_id": outcome.transaction_id,
        "status": outcome.status.value,
        **outcome.detail,
        "replayed": not outcome.first_time,
    }
