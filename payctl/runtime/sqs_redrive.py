"""Shim 8 — DLQ redrive (the local stand-in for ``StartMessageMoveTask``).

Gap (moto 5.2.5): ``StartMessageMoveTask`` is not implemented. :func:`move_messages` moves
messages from a dead-letter queue to a destination (by default the queue whose redrive policy names
that DLQ), keeping body and message attributes. A message is deleted from the DLQ only after the
send to the destination succeeded, so a failure part-way leaves it in the DLQ, never lost.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

_BATCH = 10
# Long enough that messages being moved are not received twice by this loop.
_MOVE_VISIBILITY_SECONDS = 120


class RedriveError(RuntimeError):
    """The move could not start (no or ambiguous destination, unknown queue)."""


@dataclass
class MoveResult:
    source_arn: str
    destination_arn: str
    moved: int = 0
    skipped: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)


def _queue_url(sqs: Any, arn: str) -> str:
    parts = arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise RedriveError(f"{arn!r} is not an SQS queue ARN")
    return sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]


def source_queues_of(sqs: Any, dlq_arn: str) -> list[str]:
    """ARNs of the queues whose redrive policy sends failures to ``dlq_arn``."""
    sources = []
    for url in sqs.list_queues().get("QueueUrls", []):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "RedrivePolicy"])[
            "Attributes"
        ]
        policy = attributes.get("RedrivePolicy")
        if policy and json.loads(policy).get("deadLetterTargetArn") == dlq_arn:
            sources.append(attributes["QueueArn"])
    return sources


def _send_entry(message: dict[str, Any], index: int, fifo: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
    if message.get("MessageAttributes"):
        entry["MessageAttributes"] = message["MessageAttributes"]
    trace_header = message.get("Attributes", {}).get("AWSTraceHeader")
    if trace_header:
        entry["MessageSystemAttributes"] = {
            "AWSTraceHeader": {"StringValue": trace_header, "DataType": "String"}
        }
    if fifo:
        attributes = message.get("Attributes", {})
        entry["MessageGroupId"] = attributes["MessageGroupId"]
        if "MessageDeduplicationId" in attributes:
            entry["MessageDeduplicationId"] = attributes["MessageDeduplicationId"]
    return entry


def move_messages(
    source_arn: str,
    destination_arn: str | None = None,
    max_per_second: float | None = None,
    *,
    select: Callable[[dict[str, Any]], bool] | None = None,
    region: str | None = None,
) -> MoveResult:
    """Move every message (or those ``select`` accepts) from the DLQ ``source_arn`` to a destination.

    Messages ``select`` rejects stay in the DLQ and become visible again when the move ends.
    """
    sqs = boto3.client("sqs", region_name=region)
    if destination_arn is None:
        sources = source_queues_of(sqs, source_arn)
        if len(sources) != 1:
            raise RedriveError(
                f"{source_arn} is the dead-letter queue of {sources or 'no queue'}; "
                "pass destination_arn explicitly"
            )
        destination_arn = sources[0]
    source_url = _queue_url(sqs, source_arn)
    destination_url = _queue_url(sqs, destination_arn)
    fifo = destination_arn.endswith(".fifo")
    result = MoveResult(source_arn, destination_arn)
    kept: list[dict[str, Any]] = []
    interval = 1.0 / max_per_second if max_per_second else 0.0

    while True:
        received = sqs.receive_message(
            QueueUrl=source_url,
            MaxNumberOfMessages=_BATCH,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            VisibilityTimeout=_MOVE_VISIBILITY_SECONDS,
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not received:
            break
        for message in received:
            if select is not None and not select(message):
                kept.append(message)
                result.skipped += 1
                continue
            started = time.monotonic()
            try:
                sent = sqs.send_message_batch(
                    QueueUrl=destination_url, Entries=[_send_entry(message, 0, fifo)]
                )
                failure = sent["Failed"][0] if sent.get("Failed") else None
            except ClientError as exc:
                failure = exc.response["Error"]
            if failure is not None:
                result.failed.append({"MessageId": message["MessageId"], "Error": failure})
                kept.append(message)
                continue
            sqs.delete_message(QueueUrl=source_url, ReceiptHandle=message["ReceiptHandle"])
            result.moved += 1
            if interval:
                time.sleep(max(0.0, interval - (time.monotonic() - started)))

    for message in kept:
        sqs.change_message_visibility(
            QueueUrl=source_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return result
