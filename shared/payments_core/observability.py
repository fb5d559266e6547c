"""Logger, Tracer and Metrics for every service, configured one way.

Tracing goes through Powertools' Tracer (backed by the X-Ray SDK shipped in this layer), so a
later move to OpenTelemetry touches this module only. Responses are never captured: they hold
payment data.
"""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools import Logger, Metrics, Tracer


@cache
def get_logger(service: str) -> Logger:
    return Logger(service=service)


@cache
def get_tracer(service: str) -> Tracer:
    return Tracer(service=service)


@cache
def get_metrics(service: str) -> Metrics:
    return Metrics(service=service)
