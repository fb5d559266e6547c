"""Shim 15: concurrent invocations keep their own Powertools metric sets in the one local process."""

from __future__ import annotations

import threading

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit


def test_metrics_added_on_one_thread_are_not_flushed_by_another(moto_env):
    validation = Metrics(namespace="Payments", service="validation")
    fraud = Metrics(namespace="Payments", service="fraud")
    added = threading.Barrier(2)
    seen: dict[str, list[str]] = {}

    def invocation(metrics: Metrics, name: str) -> None:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        added.wait()
        emf = metrics.serialize_metric_set()["_aws"]["CloudWatchMetrics"][0]
        seen[name] = sorted(metric["Name"] for metric in emf["Metrics"])
        metrics.provider.clear_metrics()

    threads = [
        threading.Thread(target=invocation, args=(validation, "ValidationPassed")),
        threading.Thread(target=invocation, args=(fraud, "FraudApproved")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert seen == {"ValidationPassed": ["ValidationPassed"], "FraudApproved": ["FraudApproved"]}
