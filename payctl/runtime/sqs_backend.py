"""Shim 14 (a speed-up) — moto's SQS receive without a quadratic retention check.

Gap (moto 5.2.5): ``SQSBackend.receive_message`` checks each message it hands out against the
queue's retention period through ``get_queue_attributes(queue, ["MessageRetentionPeriod"])``,
which builds *every* queue attribute, including the approximate counts that walk all messages.
Receiving a batch from a queue holding N messages therefore costs O(batch x N), and a 1,000-payment
backlog spent most of its time there. The check reads the one attribute it needs instead; the
answer is the same.
"""

from __future__ import annotations

from typing import Any

from payctl.runtime._patching import Patcher

GAP = "moto SQS receive checks retention by building every queue attribute per message"


def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
    from moto.core.utils import unix_time

    queue = self.get_queue(queue_name)
    retain_until = int(queue.message_retention_period) + message.sent_timestamp / 1000
    return bool(retain_until > unix_time())


def install(patcher: Patcher) -> None:
    from moto.sqs.models import SQSBackend

    patcher.setattr(
        SQSBackend,
        "is_message_valid_based_on_retention_period",
        is_message_valid_based_on_retention_period,
        gap=GAP,
    )
