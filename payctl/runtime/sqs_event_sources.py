"""Shim 7 — SQS event source mappings are polled like Lambda does, not triggered inside SendMessage.

Gap (moto 5.2.5): a queue with an event source mapping invokes the function from inside
``SendMessage`` (``Queue.add_message``), one record per invocation, ignores ``batchItemFailures``
and deletes the messages after a "successful" (stubbed) invocation. This shim detaches every new
mapping from moto's queue trigger (the mapping itself stays listable through the Lambda API) and
provides :class:`EventSourcePoller`, which runs one receive → invoke → delete cycle with Lambda's
rules: up to ``BatchSize`` records, ``ReportBatchItemFailures`` deletes only the successes, and an
errored invocation (function or service error) returns the whole batch.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from payctl.runtime import faults
from payctl.runtime._patching import Patcher

GAP = "moto SQS triggers Lambda inside SendMessage and deletes stubbed batches"

_SQS_MAX_RECEIVE = 10
# One attempt per Invoke: SDK retries would hide injected service faults from the caller.
NO_RETRIES = Config(retries={"total_max_attempts": 1})
_POLL_PAUSE_SECONDS = 0.05


@dataclass(frozen=True)
class EventSource:
    """The configuration of one SQS → Lambda event source mapping."""

    uuid: str
    function_logical_id: str | None
    function_name: str
    function_arn: str
    queue_arn: str
    queue_url: str
    batch_size: int
    maximum_batching_window_seconds: int
    function_response_types: tuple[str, ...]
    scaling_config: dict[str, Any] | None
    enabled: bool

    @property
    def reports_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.function_response_types

    @property
    def maximum_concurrency(self) -> int | None:
        return (self.scaling_config or {}).get("MaximumConcurrency")


@dataclass
class PollResult:
    received: int = 0
    deleted: int = 0
    failed_message_ids: list[str] = field(default_factory=list)
    invoked: bool = False
    function_error: str | None = None
    service_error: str | None = None
    response: Any = None


def install(patcher: Patcher) -> None:
    from moto.awslambda.models import LambdaBackend
    from moto.sqs.models import sqs_backends

    def wrap(original: Any) -> Any:
        def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
            esm: Any = original(self, spec)
            arn: str = esm.function_arn
            for queue in sqs_backends[self.account_id][self.region_name].queues.values():
                if queue.lambda_event_source_mappings.get(arn) is esm:
                    del queue.lambda_event_source_mappings[arn]
            return esm

        return create_event_source_mapping

    patcher.wrap(LambdaBackend, "create_event_source_mapping", wrap, gap=GAP)


def lambda_message_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """SQS ReceiveMessage attribute shape → the shape Lambda puts in ``messageAttributes``."""
    converted: dict[str, Any] = {}
    for name, value in (attributes or {}).items():
        item: dict[str, Any] = {
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value["DataType"],
        }
        if "StringValue" in value:
            item["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            item["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
        converted[name] = item
    return converted


def sqs_event(messages: Iterable[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    records = []
    for message in messages:
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": lambda_message_attributes(message.get("MessageAttributes", {})),
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        records.append(record)
    return {"Records": records}


class InvalidBatchResponse(ValueError):
    """The function's partial batch response is malformed, so Lambda fails the whole batch."""


def failed_ids_from_response(response: Any, batch_ids: set[str]) -> set[str]:
    """Apply Lambda's rules for a ``ReportBatchItemFailures`` response."""
    if response is None or response == {} or response == "":
        return set()
    if not isinstance(response, dict):
        raise InvalidBatchResponse(f"response is not a JSON object: {response!r}")
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise InvalidBatchResponse("batchItemFailures is not a list")
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in batch_ids:
            raise InvalidBatchResponse(f"invalid itemIdentifier in {failure!r}")
        failed.add(identifier)
    return failed


class EventSourcePoller:
    """One Lambda poller for one SQS event source mapping."""

    def __init__(
        self,
        source: EventSource,
        region: str,
        *,
        visibility_timeout_on_failure: int | None = None,
        sqs: Any = None,
        lambda_client: Any = None,
    ) -> None:
        self.source = source
        self.region = region
        self.visibility_timeout_on_failure = visibility_timeout_on_failure
        self._sqs = sqs or boto3.client("sqs", region_name=region)
        # The poller makes exactly one Invoke per batch, so the client must not retry.
        self._lambda = lambda_client or boto3.client("lambda", region_name=region, config=NO_RETRIES)

    def _receive(self, max_wait_seconds: float) -> list[dict[str, Any]]:
        window = min(self.source.maximum_batching_window_seconds, max_wait_seconds)
        deadline = time.monotonic() + window
        messages: list[dict[str, Any]] = []
        while len(messages) < self.source.batch_size:
            response = self._sqs.receive_message(
                QueueUrl=self.source.queue_url,
                MaxNumberOfMessages=min(_SQS_MAX_RECEIVE, self.source.batch_size - len(messages)),
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            received = response.get("Messages", [])
            messages.extend(received)
            if not received:
                if time.monotonic() >= deadline:
                    break
                time.sleep(_POLL_PAUSE_SECONDS)
        return messages

    def _delete(self, messages: list[dict[str, Any]]) -> int:
        deleted = 0
        for start in range(0, len(messages), _SQS_MAX_RECEIVE):
            chunk = messages[start : start + _SQS_MAX_RECEIVE]
            result = self._sqs.delete_message_batch(
                QueueUrl=self.source.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            if result.get("Failed"):
                raise RuntimeError(f"could not delete processed messages: {result['Failed']}")
            deleted += len(result.get("Successful", []))
        return deleted

    def _return(self, messages: list[dict[str, Any]]) -> None:
        if self.visibility_timeout_on_failure is None or not messages:
            return
        for start in range(0, len(messages), _SQS_MAX_RECEIVE):
            chunk = messages[start : start + _SQS_MAX_RECEIVE]
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.source.queue_url,
                Entries=[
                    {
                        "Id": str(i),
                        "ReceiptHandle": m["ReceiptHandle"],
                        "VisibilityTimeout": self.visibility_timeout_on_failure,
                    }
                    for i, m in enumerate(chunk)
                ],
            )

    def poll_once(self, max_wait_seconds: float = 0.0) -> PollResult:
        """Receive up to BatchSize messages, invoke once, delete what succeeded.

        ``max_wait_seconds`` caps how long to wait for a fuller batch (at most the mapping's
        ``MaximumBatchingWindowInSeconds``); the default 0 takes what is there now.
        """
        result = PollResult()
        if not self.source.enabled:
            return result
        messages = self._receive(max_wait_seconds)
        result.received = len(messages)
        if not messages:
            return result
        faults.deliver_duplicates(self._sqs, self.source.queue_url, messages)
        event = sqs_event(messages, self.source.queue_arn, self.region)
        result.invoked = True
        try:
            response = self._lambda.invoke(
                FunctionName=self.source.function_arn,
                InvocationType="RequestResponse",
                Payload=json.dumps(event).encode("utf-8"),
            )
        except ClientError as exc:
            result.service_error = exc.response["Error"]["Code"]
            result.failed_message_ids = [m["MessageId"] for m in messages]
            self._return(messages)
            return result
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            result.function_error = json.loads(payload or b"{}").get("errorType", response["FunctionError"])
            result.failed_message_ids = [m["MessageId"] for m in messages]
            self._return(messages)
            return result
        try:
            result.response = json.loads(payload) if payload else None
        except json.JSONDecodeError:
            result.response = payload.decode("utf-8", "replace")
        failed: set[str] = set()
        if self.source.reports_batch_item_failures:
            try:
                failed = failed_ids_from_response(result.response, {m["MessageId"] for m in messages})
            except InvalidBatchResponse as exc:
                result.function_error = f"InvalidBatchResponse: {exc}"
                failed = {m["MessageId"] for m in messages}
        succeeded = [m for m in messages if m["MessageId"] not in failed]
        returned = [m for m in messages if m["MessageId"] in failed]
        result.deleted = self._delete(succeeded)
        result.failed_message_ids = [m["MessageId"] for m in returned]
        self._return(returned)
        return result


def event_sources_for_function(
    function_name: str,
    function_logical_id: str | None,
    region: str,
    *,
    lambda_client: Any = None,
    sqs: Any = None,
) -> list[EventSource]:
    lambda_client = lambda_client or boto3.client("lambda", region_name=region)
    sqs = sqs or boto3.client("sqs", region_name=region)
    sources = []
    for mapping in lambda_client.list_event_source_mappings(FunctionName=function_name)[
        "EventSourceMappings"
    ]:
        queue_arn = mapping["EventSourceArn"]
        if queue_arn.split(":")[2] != "sqs":
            continue
        account, queue_name = queue_arn.split(":")[4], queue_arn.split(":")[5]
        queue_url = sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sources.append(
            EventSource(
                uuid=mapping["UUID"],
                function_logical_id=function_logical_id,
                function_name=function_name,
                function_arn=mapping["FunctionArn"],
                queue_arn=queue_arn,
                queue_url=queue_url,
                batch_size=int(mapping.get("BatchSize", 10)),
                maximum_batching_window_seconds=int(mapping.get("MaximumBatchingWindowInSeconds", 0)),
                function_response_types=tuple(mapping.get("FunctionResponseTypes", [])),
                scaling_config=mapping.get("ScalingConfig"),
                enabled=mapping.get("State", "Enabled") == "Enabled",
            )
        )
    return sources
