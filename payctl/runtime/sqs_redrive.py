"""Shim 8 — DLQ redrive: ``StartMessageMoveTask``, ``ListMessageMoveTasks``, ``CancelMessageMoveTask``.

Gap (moto 5.2.5): none of the three message-move-task actions is implemented; boto3 gets
``NotImplemented`` for each. This shim adds them to moto's SQS responder, so the operator tools
make the same boto3 calls locally as against AWS (``payctl dlq replay --native``, ``dlq tasks``).

A task runs in a thread of the process that holds moto's state, moving messages as SQS does:
from the DLQ to the destination (by default the queue whose redrive policy names the DLQ), body
and message attributes kept, each deleted from the DLQ only after its send succeeded, at most
``MaxNumberOfMessagesPerSecond``. As in SQS:

- the source must be a dead-letter queue of some queue, and only one task per source may run;
- ``ApproximateNumberOfMessagesToMove`` is the DLQ's depth when the task started, and messages
  arriving later are not moved;
- ``ListMessageMoveTasks`` returns the source's most recent tasks first (up to 10), with
  ``RUNNING``, ``COMPLETED``, ``CANCELLING``, ``CANCELLED`` or ``FAILED``;
- only a running task can be cancelled; it stops after the message it is moving.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from payctl.runtime._patching import Patcher

GAP = "moto SQS has no StartMessageMoveTask / ListMessageMoveTasks / CancelMessageMoveTask"
_BATCH = 10
# Long enough that messages being moved are not received twice by the mover.
_MOVE_VISIBILITY_SECONDS = 120
# SQS's default when no rate is given is "system optimised"; locally that is as fast as moto goes.
_MAX_RATE = 500
_LIST_LIMIT = 10


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
    return str(sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"])


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
    limit: int | None = None,
    stop: threading.Event | None = None,
    on_moved: Callable[[int], None] | None = None,
) -> MoveResult:
    """Move messages (those ``select`` accepts, at most ``limit``) from the DLQ ``source_arn``.

    Messages ``select`` rejects, and any left when ``stop`` is set, become visible again at the end.
    """
    sqs = boto3.client("sqs", region_name=region)
    if destination_arn is None:
        destination_arn = _only_source_queue(sqs, source_arn)
    move = _Move(sqs, MoveResult(source_arn, destination_arn), _queue_url(sqs, source_arn))
    destination_url = _queue_url(sqs, destination_arn)
    fifo = destination_arn.endswith(".fifo")
    interval = 1.0 / max_per_second if max_per_second else 0.0

    def done() -> bool:
        return (stop is not None and stop.is_set()) or (limit is not None and move.result.moved >= limit)

    while not done():
        received = move.receive()
        if not received:
            break
        for message in received:
            if done() or (select is not None and not select(message)):
                move.keep(message, skipped=True)
                continue
            started = time.monotonic()
            if move.send(message, destination_url, fifo) and on_moved is not None:
                on_moved(move.result.moved)
            if interval:
                time.sleep(max(0.0, interval - (time.monotonic() - started)))
    move.hand_back()
    return move.result


def _only_source_queue(sqs: Any, dlq_arn: str) -> str:
    sources = source_queues_of(sqs, dlq_arn)
    if len(sources) != 1:
        raise RedriveError(
            f"{dlq_arn} is the dead-letter queue of {sources or 'no queue'}; pass destination_arn explicitly"
        )
    return sources[0]


@dataclass
class _Move:
    """One move's progress: what it moved and failed, and the messages it hands back to the DLQ."""

    sqs: Any
    result: MoveResult
    source_url: str
    kept: list[dict[str, Any]] = field(default_factory=list)

    def receive(self) -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=self.source_url,
            MaxNumberOfMessages=_BATCH,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            VisibilityTimeout=_MOVE_VISIBILITY_SECONDS,
            WaitTimeSeconds=0,
        ).get("Messages", [])
        return received

    def keep(self, message: dict[str, Any], *, skipped: bool = False) -> None:
        self.kept.append(message)
        if skipped:
            self.result.skipped += 1

    def send(self, message: dict[str, Any], destination_url: str, fifo: bool) -> bool:
        """Send to the destination, and only then delete from the DLQ; whether it moved."""
        try:
            sent = self.sqs.send_message_batch(
                QueueUrl=destination_url, Entries=[_send_entry(message, 0, fifo)]
            )
            failure = sent["Failed"][0] if sent.get("Failed") else None
        except ClientError as exc:
            failure = exc.response["Error"]
        if failure is not None:
            self.result.failed.append({"MessageId": message["MessageId"], "Error": failure})
            self.keep(message)
            return False
        self.sqs.delete_message(QueueUrl=self.source_url, ReceiptHandle=message["ReceiptHandle"])
        self.result.moved += 1
        return True

    def hand_back(self) -> None:
        for message in self.kept:
            self.sqs.change_message_visibility(
                QueueUrl=self.source_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )


# --------------------------------------------------------------------------------------- move tasks


@dataclass
class MoveTask:
    handle: str
    source_arn: str
    destination_arn: str | None
    rate: int | None
    to_move: int
    started_ms: int
    status: str = "RUNNING"
    moved: int = 0
    failure: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def view(self) -> dict[str, Any]:
        view: dict[str, Any] = {
            "TaskHandle": self.handle,
            "Status": self.status,
            "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": self.started_ms,
        }
        if self.destination_arn:
            view["DestinationArn"] = self.destination_arn
        if self.rate:
            view["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.failure:
            view["FailureReason"] = self.failure
        return view


_TASKS: dict[str, list[MoveTask]] = {}
_TASKS_LOCK = threading.Lock()


def _run(task: MoveTask, region: str) -> None:
    def moved(count: int) -> None:
        task.moved = count

    try:
        result = move_messages(
            task.source_arn,
            task.destination_arn,
            task.rate or _MAX_RATE,
            region=region,
            limit=task.to_move,
            stop=task.stop,
            on_moved=moved,
        )
    except (ClientError, RedriveError) as exc:
        task.status, task.failure = "FAILED", str(exc)
        return
    if result.failed and not result.moved:
        task.status, task.failure = "FAILED", json.dumps(result.failed[0]["Error"])
    else:
        task.status = "CANCELLED" if task.stop.is_set() else "COMPLETED"


def _queue_of(response: Any, arn: str) -> Any:
    from moto.sqs.exceptions import QueueDoesNotExist

    name = arn.split(":")[-1]
    try:
        return response.sqs_backend.get_queue(name)
    except QueueDoesNotExist:
        raise _invalid(f"the queue {arn} does not exist") from None


def _invalid(message: str) -> Exception:
    from moto.sqs.exceptions import InvalidParameterValue

    return InvalidParameterValue(message)


def start_message_move_task(self: Any) -> Any:
    from moto.core.responses import ActionResult

    source_arn = self._get_param("SourceArn")
    destination_arn = self._get_param("DestinationArn")
    rate = self._get_param("MaxNumberOfMessagesPerSecond")
    source = _queue_of(self, source_arn)
    if destination_arn:
        _queue_of(self, destination_arn)
    if not any(queue.dead_letter_queue is source for queue in self.sqs_backend.queues.values()):
        raise _invalid(f"the source {source_arn} is not a dead-letter queue of any queue")
    if rate is not None and not 1 <= int(rate) <= _MAX_RATE:
        raise _invalid(f"MaxNumberOfMessagesPerSecond must be 1..{_MAX_RATE}")
    with _TASKS_LOCK:
        tasks = _TASKS.setdefault(source_arn, [])
        if any(task.status in ("RUNNING", "CANCELLING") for task in tasks):
            raise _invalid(f"a message move task is already running on {source_arn}")
        handle = base64.b64encode(
            json.dumps({"taskId": str(uuid.uuid4()), "sourceArn": source_arn}).encode()
        ).decode()
        task = MoveTask(
            handle=handle,
            source_arn=source_arn,
            destination_arn=destination_arn,
            rate=int(rate) if rate is not None else None,
            to_move=sum(1 for message in source._messages if message.visible),
            started_ms=int(time.time() * 1000),
        )
        tasks.insert(0, task)
    threading.Thread(target=_run, args=(task, self.region), name="sqs-move-task", daemon=True).start()
    return ActionResult({"TaskHandle": handle})


def list_message_move_tasks(self: Any) -> Any:
    from moto.core.responses import ActionResult

    source_arn = self._get_param("SourceArn")
    limit = int(self._get_param("MaxResults") or 1)
    _queue_of(self, source_arn)
    with _TASKS_LOCK:
        tasks = list(_TASKS.get(source_arn, []))[: min(limit, _LIST_LIMIT)]
    return ActionResult({"Results": [task.view() for task in tasks]})


def cancel_message_move_task(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.sqs.exceptions import SQSException

    handle = self._get_param("TaskHandle")
    with _TASKS_LOCK:
        task = next((t for tasks in _TASKS.values() for t in tasks if t.handle == handle), None)
        if task is None:
            raise SQSException("ResourceNotFoundException", f"no message move task {handle}")
        if task.status != "RUNNING":
            raise SQSException("ResourceNotFoundException", f"the task is {task.status}, not RUNNING")
        task.status = "CANCELLING"
        task.stop.set()
    return ActionResult({"ApproximateNumberOfMessagesMoved": task.moved})


def install(patcher: Patcher) -> None:
    from moto.sqs.responses import SQSResponse

    for name, action in (
        ("start_message_move_task", start_message_move_task),
        ("list_message_move_tasks", list_message_move_tasks),
        ("cancel_message_move_task", cancel_message_move_task),
    ):
        if hasattr(SQSResponse, name):
            raise RuntimeError(f"moto's SQS now implements {name}; re-check shim 8 and drop this action")
        patcher.setattr(SQSResponse, name, action, gap=GAP, create=True)
    patcher.add_callback(_TASKS.clear)
