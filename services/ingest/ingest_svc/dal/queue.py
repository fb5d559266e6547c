"""The payments queue: SendMessage for one payment, SendMessageBatch in tens for more."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from payments_core import aws
from payments_core.models import PaymentMessage
from payments_core.observability import get_logger
from payments_core.settings import get_settings

logger = get_logger("ingest")

SQS_BATCH_LIMIT: Final[int] = 10


def message_body(message: PaymentMessage) -> str:
    """The queue message as JSON: the amount is the payment's canonical decimal string."""
    return json.dumps(message.model_dump(mode="json", exclude_none=True), separators=(",", ":"))


def message_attributes(message: PaymentMessage) -> dict[str, Any]:
    return {
        "transaction_id": {"DataType": "String", "StringValue": message.transaction_id},
        "submitter": {"DataType": "String", "StringValue": message.submitter},
    }


class PaymentsQueue:
    def __init__(self, queue_url: str | None = None, sqs: Any = None) -> None:
        self._url = queue_url or get_settings().require("payments_queue_url")
        self._sqs = sqs

    @property
    def _client(self) -> Any:
        return self._sqs or aws.client("sqs")

    def send(self, messages: Sequence[PaymentMessage]) -> set[str]:
        """SendMessage for one, SendMessageBatch in tens for more; the ids that were not enqueued."""
        if len(messages) == 1:
            return self._send_one(messages[0])
        failed: set[str] = set()
        for start in range(0, len(messages), SQS_BATCH_LIMIT):
            failed |= self._send_batch(messages[start : start + SQS_BATCH_LIMIT])
        return failed

    def _send_one(self, message: PaymentMessage) -> set[str]:
        try:
            self._client.send_message(
                QueueUrl=self._url,
                MessageBody=message_body(message),
                MessageAttributes=message_attributes(message),
            )
        except (ClientError, BotoCoreError) as exc:
            self._log_failure([message.transaction_id], aws.error_code(exc))
            return {message.transaction_id}
        return set()

    def _send_batch(self, chunk: Sequence[PaymentMessage]) -> set[str]:
        entries = [
            {
                "Id": str(position),
                "MessageBody": message_body(message),
                "MessageAttributes": message_attributes(message),
            }
            for position, message in enumerate(chunk)
        ]
        try:
            response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
        except (ClientError, BotoCoreError) as exc:
            failed_ids = [message.transaction_id for message in chunk]
            self._log_failure(failed_ids, aws.error_code(exc))
            return set(failed_ids)
        failed = {
            chunk[int(entry["Id"])].transaction_id: entry.get("Code", "")
            for entry in response.get("Failed", [])
        }
        if failed:
            self._log_failure(list(failed), ",".join(sorted(set(failed.values()))))
        return set(failed)

    @staticmethod
    def _log_failure(transaction_ids: list[str], code: str) -> None:
        logger.warning("payments not enqueued", extra={"transaction_ids": transaction_ids, "aws_error": code})
