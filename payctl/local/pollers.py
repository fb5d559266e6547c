"""SQS pollers that do what Lambda's event source mapping does for an SQS queue.

moto's own SQS trigger invokes the function inside SendMessage, one record at a time, ignores
partial batch responses and deletes messages whose invocation was stubbed, so it is disabled
and these pollers take its place: long-poll ReceiveMessage, gather a batch (BatchSize or the
batching window, whichever comes first), invoke with Lambda's SQS event, then delete only what
succeeded. Visibility timeouts and the redrive to the DLQ after maxReceiveCount stay SQS's job.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

# ReceiveMessage returns at most 10 messages per call.
RECEIVE_MAX = 10
# Lambda caps one invocation's payload at 6 MB; gathering stops before a batch would exceed it.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
# Without MaximumConcurrency Lambda scales to hundreds of batches; one laptop process cannot.
DEFAULT_LOCAL_CONCURRENCY = 5

Invoke = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True)
class EventSourceConfig:
    """One SQS event source mapping, as the template declares it."""

    function_id: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    batching_window_seconds: int = 0
    maximum_concurrency: int | None = None
    report_batch_item_failures: bool = False
    enabled: bool = True

    @property
    def workers(self) -> int:
        return self.maximum_concurrency or DEFAULT_LOCAL_CONCURRENCY


def _b64(raw: Any) -> Any:
    return base64.b64encode(raw).decode() if isinstance(raw, bytes | bytearray) else raw


def lambda_message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """An SQS MessageAttributeValue in the lower-camel form Lambda puts in the event."""
    converted: dict[str, Any] = {}
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = _b64(value["BinaryValue"])
    converted["stringListValues"] = list(value.get("StringListValues") or [])
    converted["binaryListValues"] = [_b64(item) for item in value.get("BinaryListValues") or []]
    converted["dataType"] = value["DataType"]
    return converted


def lambda_sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One ``Records`` entry of Lambda's SQS event, from a ReceiveMessage result."""
    attributes = message.get("MessageAttributes") or {}
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {name: lambda_message_attribute(value) for name, value in attributes.items()},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def lambda_sqs_event(messages: Iterable[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    return {"Records": [lambda_sqs_record(message, queue_arn, region) for message in messages]}


class _WholeBatch(Exception):
    """The response makes Lambda treat every record as failed."""


def failed_message_ids(response: Any, batch_ids: list[str]) -> set[str]:
    """Which records a ``ReportBatchItemFailures`` response returns to the queue.

    Lambda's rules: no response, no ``batchItemFailures`` or an empty list is a complete
    success; a malformed response, an empty or null ``itemIdentifier``, or an id that is not
    in the batch is a complete failure.
    """
    try:
        return _failed_ids(response, batch_ids)
    except _WholeBatch as exc:
        logger.warning("batch response treated as a complete failure: %s", exc)
        return set(batch_ids)


def _failed_ids(response: Any, batch_ids: list[str]) -> set[str]:
    if response is None or response == {} or response == "":
        return set()
    if not isinstance(response, dict):
        raise _WholeBatch(f"response is a {type(response).__name__}, not an object")
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise _WholeBatch("batchItemFailures is not a list")
    known = set(batch_ids)
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in known:
            raise _WholeBatch(f"itemIdentifier {identifier!r} is empty or not in the batch")
        failed.add(identifier)
    return failed


@dataclass
class BatchOutcome:
    received: int
    deleted: int
    returned: int
    function_error: bool = False


@dataclass
class PollerStats:
    batches: int = 0
    records: int = 0
    deleted: int = 0
    returned: int = 0
    function_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, outcome: BatchOutcome) -> None:
        with self.lock:
            self.batches += 1
            self.records += outcome.received
            self.deleted += outcome.deleted
            self.returned += outcome.returned
            self.function_errors += int(outcome.function_error)


class SqsPoller:
    """The event source mapping for one queue: ``workers`` concurrent batch loops."""

    def __init__(
        self,
        source: EventSourceConfig,
        sqs: Any,
        invoke: Invoke,
        region: str,
        *,
        wait_seconds: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Lambda long-polls for 20 s; a short wait here keeps shutdown prompt.
        self.source = source
        self._sqs = sqs
        self._invoke = invoke
        self._region = region
        self._wait = wait_seconds
        self._clock = clock
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.stats = PollerStats()

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def start(self) -> None:
        if not self.source.enabled or self._threads:
            return
        self._stop.clear()
        for index in range(self.source.workers):
            thread = threading.Thread(
                target=self._loop, name=f"sqs-poller:{self.source.function_id}:{index}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop receiving; a batch already handed to the function finishes first."""
        self._stop.set()
        deadline = self._clock() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - self._clock()))
        stuck = [thread.name for thread in self._threads if thread.is_alive()]
        if stuck:
            logger.warning("pollers still finishing a batch at shutdown: %s", ", ".join(stuck))
        self._threads = []

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                # A poller outlives one bad receive or delete (as the managed ESM does), but not silently.
                logger.exception("poller for %s failed; retrying", self.source.function_id)
                self._stop.wait(1.0)

    def gather(self) -> list[dict[str, Any]]:
        """Receive until the batch is full or the batching window (from the first message) closes."""
        batch: list[dict[str, Any]] = []
        size = 0
        window_end: float | None = None
        while not self._stop.is_set() and len(batch) < self.source.batch_size:
            if window_end is None:
                wait = self._wait
            else:
                remaining = window_end - self._clock()
                if remaining <= 0:
                    break
                wait = min(int(remaining), 20)
            response = self._sqs.receive_message(
                QueueUrl=self.source.queue_url,
                MaxNumberOfMessages=min(RECEIVE_MAX, self.source.batch_size - len(batch)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = response.get("Messages") or []
            for message in messages:
                size += len(message["Body"].encode())
                batch.append(message)
            if not batch:
                continue
            if size >= MAX_PAYLOAD_BYTES or self.source.batching_window_seconds <= 0:
                break
            if window_end is None:
                window_end = self._clock() + self.source.batching_window_seconds
            elif not messages:
                self._stop.wait(min(0.05, max(0.0, window_end - self._clock())))
        if self._stop.is_set() and batch:
            self._release(batch)
            return []
        return batch

    def _release(self, batch: list[dict[str, Any]]) -> None:
        """Gathered but never invoked: make the messages visible again at once."""
        for start in range(0, len(batch), RECEIVE_MAX):
            chunk = batch[start : start + RECEIVE_MAX]
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.source.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
                    for index, message in enumerate(chunk)
                ],
            )

    def poll_once(self) -> BatchOutcome | None:
        """Gather one batch, invoke the function, delete what succeeded. ``None`` when the queue was idle."""
        batch = self.gather()
        if not batch:
            return None
        outcome = self.process(batch)
        self.stats.add(outcome)
        return outcome

    def process(self, batch: list[dict[str, Any]]) -> BatchOutcome:
        event = lambda_sqs_event(batch, self.source.queue_arn, self._region)
        ids = [message["MessageId"] for message in batch]
        try:
            response = self._invoke(self.source.function_id, event)
        except Exception as exc:
            # A function error returns the whole batch: nothing is deleted, and every message
            # comes back after its visibility timeout, counting towards maxReceiveCount.
            logger.warning("%s failed on a batch of %d: %s", self.source.function_id, len(batch), exc)
            return BatchOutcome(received=len(batch), deleted=0, returned=len(batch), function_error=True)
        failed = failed_message_ids(response, ids) if self.source.report_batch_item_failures else set()
        done = [message for message in batch if message["MessageId"] not in failed]
        self._delete(done)
        return BatchOutcome(received=len(batch), deleted=len(done), returned=len(failed))

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), RECEIVE_MAX):
            chunk = messages[start : start + RECEIVE_MAX]
            response = self._sqs.delete_message_batch(
                QueueUrl=self.source.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(chunk)
                ],
            )
            for failure in response.get("Failed") or []:
                logger.warning("could not delete a processed message: %s", failure)


class PollerGroup:
    """All the stack's event sources, started and stopped together."""

    def __init__(self, pollers: list[SqsPoller]) -> None:
        self.pollers = pollers

    def start(self) -> None:
        for poller in self.pollers:
            poller.start()

    def stop(self, timeout: float = 10.0) -> None:
        for poller in self.pollers:
            poller._stop.set()
        for poller in self.pollers:
            poller.stop(timeout)
