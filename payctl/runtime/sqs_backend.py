"""Shim 14 (a speed-up) — moto's SQS send and receive without quadratic attribute building.

Gaps (moto 5.2.5): ``Queue.attributes`` builds *every* queue attribute, including the three
approximate message counts, each of which walks every message in the queue. Two hot paths build it
to read a single attribute:

- ``SQSBackend.receive_message`` checks each message it hands out against the queue's retention
  period through ``get_queue_attributes(queue, ["MessageRetentionPeriod"])``;
- ``SQSBackend.send_message`` (and the ``_validate_message`` and ``Queue.add_message`` it calls)
  reads ``ContentBasedDeduplication`` from it, up to three times per message.

Receiving or sending a batch with N messages queued therefore cost O(batch x N), and a 1,000-payment
backlog spent much of its time there. The retention check reads the one attribute it needs; while a
message is being sent, ``Queue.attributes`` (on that thread) holds only ``ContentBasedDeduplication``,
the one attribute the send path reads, with the value moto would give it. Answers are unchanged.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from payctl.runtime._patching import Patcher

GAP = "moto SQS builds every queue attribute (walking all messages) to read one"

_sending = threading.local()


def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
    from moto.core.utils import unix_time

    queue = self.get_queue(queue_name)
    retain_until = int(queue.message_retention_period) + message.sent_timestamp / 1000
    return bool(retain_until > unix_time())


def send_path_attributes(queue: Any) -> dict[str, Any]:
    """``Queue.attributes``' ``ContentBasedDeduplication``: FIFO queues only, bools lowercased."""
    if not queue.fifo_queue:
        return {}
    value = queue.content_based_deduplication
    return {"ContentBasedDeduplication": str(value).lower() if isinstance(value, bool) else value}


def _attributes_while_sending(full: property) -> property:
    def attributes(queue: Any) -> dict[str, Any]:
        if getattr(_sending, "active", False):
            return send_path_attributes(queue)
        return full.fget(queue)  # type: ignore[misc]

    return property(attributes)


def _marked_as_sending(send_message: Any) -> Any:
    @functools.wraps(send_message)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        outer = getattr(_sending, "active", False)
        _sending.active = True
        try:
            return send_message(self, *args, **kwargs)
        finally:
            _sending.active = outer

    return wrapper


def install(patcher: Patcher) -> None:
    from moto.sqs.models import Queue, SQSBackend

    patcher.setattr(
        SQSBackend,
        "is_message_valid_based_on_retention_period",
        is_message_valid_based_on_retention_period,
        gap=GAP,
    )
    if not isinstance(Queue.__dict__.get("attributes"), property):
        raise RuntimeError("moto's Queue.attributes is no longer a property; re-check this shim")
    patcher.wrap(Queue, "attributes", _attributes_while_sending, gap=GAP)
    patcher.wrap(SQSBackend, "send_message", _marked_as_sending, gap=GAP)
