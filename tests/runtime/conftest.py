"""The runtime's own fixture stack: a small SAM template with one of everything a shim touches."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from payctl.runtime import EventSourcePoller, Stack, deploy
from payctl.runtime._state import RuntimeState
from payctl.runtime.sqs_event_sources import event_sources_for_function

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_TEMPLATE = FIXTURES / "template.yaml"


@pytest.fixture(scope="session")
def fixture_stack(moto_env: RuntimeState) -> Stack:
    return deploy(FIXTURE_TEMPLATE, stack_name="runtime-fixture")


@pytest.fixture
def sqs(moto_env: RuntimeState):
    return boto3.client("sqs", region_name=moto_env.region)


@dataclass(frozen=True)
class Queues:
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str


@pytest.fixture
def queues(moto_env: RuntimeState, sqs) -> Queues:
    """A fresh queue with its own DLQ (maxReceiveCount 2), so no test sees another's messages.

    (SQS allows one PurgeQueue per queue per minute, so shared queues cannot be reset quickly.)
    """
    suffix = uuid.uuid4().hex[:12]
    dlq_url = sqs.create_queue(QueueName=f"test-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url = sqs.create_queue(
        QueueName=f"test-queue-{suffix}", Attributes={"RedrivePolicy": policy, "VisibilityTimeout": "60"}
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Queues(url, arn, dlq_url, dlq_arn)


@pytest.fixture
def consumer_poller(fixture_stack: Stack, queues: Queues) -> EventSourcePoller:
    """The fixture consumer mapped (through the Lambda API) to a fresh queue, and its poller."""
    consumer = fixture_stack.functions["ConsumerFunction"]
    boto3.client("lambda", region_name=fixture_stack.region).create_event_source_mapping(
        FunctionName=consumer.name,
        EventSourceArn=queues.arn,
        BatchSize=5,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    (source,) = [
        source
        for source in event_sources_for_function(consumer.name, "ConsumerFunction", fixture_stack.region)
        if source.queue_arn == queues.arn
    ]
    fixture_stack.lambda_faults.clear()
    return EventSourcePoller(source, fixture_stack.region)
