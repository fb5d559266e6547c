"""PaymentsQueue and its DLQ: redelivery, retention and transport security."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


def test_dlq_retention_outlives_source_queue(resources: dict[str, Any]) -> None:
    """Given a message that exhausts its receives late, the DLQ must still hold it for operators.

    SQS keeps the original enqueue timestamp when it moves a message, so a DLQ retention not longer than
    the source's would expire it on arrival.
    """
    source = resources["PaymentsQueue"]["Properties"]["MessageRetentionPeriod"]
    dlq = resources["PaymentsDLQ"]["Properties"]["MessageRetentionPeriod"]

    assert dlq == 14 * 24 * 3600
    assert dlq > source


def test_messages_move_to_dlq_after_five_receives(resources: dict[str, Any]) -> None:
    """Given a record that keeps failing, it lands in PaymentsDLQ on the fifth receive."""
    redrive = resources["PaymentsQueue"]["Properties"]["RedrivePolicy"]

    assert redrive == {"deadLetterTargetArn": {"Fn::GetAtt": ["PaymentsDLQ", "Arn"]}, "maxReceiveCount": 5}


@pytest.mark.parametrize(
    "overrides",
    [{}, {"ConsumerTimeoutSeconds": 50, "QueueVisibilityTimeoutSeconds": 300}],
    ids=["defaults", "raised-timeout"],
)
def test_visibility_timeout_is_at_least_six_consumer_timeouts(
    overrides: dict[str, Any], resources: dict[str, Any], make_resolver: Callable[..., Any]
) -> None:
    """Given the consumer timeout, visibility is at least 6x it, so a running batch is not redelivered."""
    resolver = make_resolver(**overrides)
    visibility = resolver.resolve(resources["PaymentsQueue"]["Properties"]["VisibilityTimeout"])
    timeout = resolver.resolve(resources["IngestConsumerFunction"]["Properties"]["Timeout"])

    assert int(visibility) >= 6 * int(timeout)


def test_default_parameters_satisfy_the_visibility_rule(template: dict[str, Any]) -> None:
    """Given the parameter defaults alone, the 6x rule holds (180 s >= 6 x 30 s)."""
    parameters = template["Parameters"]

    assert (
        parameters["QueueVisibilityTimeoutSeconds"]["Default"]
        >= 6 * parameters["ConsumerTimeoutSeconds"]["Default"]
    )


@pytest.mark.parametrize("logical_id", ["PaymentsQueue", "PaymentsDLQ"])
def test_queue_is_encrypted_at_rest(logical_id: str, resources: dict[str, Any]) -> None:
    """Given payment bodies in SQS, each queue uses SQS-managed SSE."""
    assert resources[logical_id]["Properties"]["SqsManagedSseEnabled"] is True


def test_queues_refuse_requests_without_tls(resources: dict[str, Any]) -> None:
    """Given the queue policy, any request over plain HTTP to either queue is denied."""
    policy = resources["PaymentsQueuesPolicy"]["Properties"]
    [statement] = policy["PolicyDocument"]["Statement"]

    assert policy["Queues"] == [{"Ref": "PaymentsQueue"}, {"Ref": "PaymentsDLQ"}]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_dlq_accepts_redrive_only_from_the_payments_queue(
    resources: dict[str, Any], make_resolver: Callable[..., Any]
) -> None:
    """Given the DLQ's RedriveAllowPolicy, only this stack's PaymentsQueue may dead-letter into it."""
    resolver = make_resolver(Environment="staging", EnvironmentSuffix="pr42")
    allow = resolver.resolve(resources["PaymentsDLQ"]["Properties"]["RedriveAllowPolicy"])
    queue_name = resolver.resolve(resources["PaymentsQueue"]["Properties"]["QueueName"])

    assert allow["redrivePermission"] == "byQueue"
    assert allow["sourceQueueArns"] == [f"arn:aws:sqs:us-east-1:123456789012:{queue_name}"]
