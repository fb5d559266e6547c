"""Logger, Tracer and Metrics for every service, configured one way.

Tracing goes through Powertools' Tracer (backed by the X-Ray SDK shipped in this layer), so a
later move to OpenTelemetry touches this module only. Responses are never captured: they hold
payment data.

Only botocore is patched: it is the one traced dependency. The Tracer's default, ``patch_all``,
imports every library the X-Ray SDK can patch (requests, httplib, sqlite3, ...) into each cold
start, for calls the services never make.
"""

from __future__ import annotations

from functools import cache
from typing import Final

from aws_lambda_powertools import Logger, Metrics, Tracer

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
