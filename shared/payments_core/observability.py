"""Logger, Tracer and Metrics for every service, configured one way.

Tracing goes through Powertools' Tracer (backed by the X-Ray SDK shipped in this layer), so a
later move to OpenTelemetry touches this module only. Responses are never captured: they hold
payment data.

Only botocore is patched: it is the one traced dependency. The Tracer's default, ``patch_all``,
imports every library the X-Ray SDK can patch (requests, httplib, sqlite3, ...) into each cold
start, for calls the services never make.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, Final, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer

Handler = TypeVar("Handler", bound=Callable[..., Any])

TRACED_MODULES: Final = ("botocore",)


@cache
def get_logger(service: str) -> Logger:
    return Logger(service=service)


@cache
def get_tracer(service: str) -> Tracer:
    return Tracer(service=service, patch_modules=TRACED_MODULES)


@cache
def get_metrics(service: str) -> Metrics:
    return Metrics(service=service)


def workflow_task(service: str) -> Callable[[Handler], Handler]:
    """What every workflow task's handler wears: the transaction id as the logs' correlation id, a
    trace without the response (it holds payment data), and its metrics flushed as it returns."""
    logger, tracer, metrics = get_logger(service), get_tracer(service), get_metrics(service)

    def wear(handler: Handler) -> Handler:
        traced = tracer.capture_lambda_handler(capture_response=False)(handler)
        logged = logger.inject_lambda_context(correlation_id_path="transaction_id")(traced)
        return metrics.log_metrics(logged)  # type: ignore[return-value]

    return wear


def stream_task(service: str) -> Callable[[Handler], Handler]:
    """What every stream function's handler wears: fresh log keys per batch (the event is never
    logged: its images hold payment data), a trace without the response, its metrics flushed."""
    logger, tracer, metrics = get_logger(service), get_tracer(service), get_metrics(service)

    def wear(handler: Handler) -> Handler:
        traced = tracer.capture_lambda_handler(capture_response=False)(handler)
        logged = logger.inject_lambda_context(log_event=False, clear_state=True)(traced)
        return metrics.log_metrics(logged)  # type: ignore[return-value]

    return wear
