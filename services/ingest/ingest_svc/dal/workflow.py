"""The payment workflow: one StartSyncExecution per delivery, waiting for the execution's result."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ingest_svc.logic.ports import WorkflowRun
from payments_core import aws
from payments_core.errors import DependencyError
from payments_core.settings import get_settings


def sync_client(timeout_seconds: float) -> Any:
    """A Step Functions client whose read timeout fits this call, one per few seconds of timeout.

    It is tried once: a retried StartSyncExecution after a read timeout would run the workflow
    twice in parallel; the queue's redelivery is the retry instead.
    """
    whole = max(1, int(timeout_seconds))
    return aws.client("stepfunctions", read_timeout=whole if whole < 10 else whole - whole % 5)


class Workflow:
    def __init__(self, state_machine_arn: str | None = None, client: Any = None) -> None:
        self._arn = state_machine_arn or get_settings().require("state_machine_arn")
        self._client = client

    def run(self, name: str, payload: dict[str, Any], *, timeout_seconds: float) -> WorkflowRun:
        """StartSyncExecution, waiting at most ``timeout_seconds`` for the execution's result."""
        client = self._client or sync_client(timeout_seconds)
        try:
            response = client.start_sync_execution(
                stateMachineArn=self._arn, name=name, input=json.dumps(payload, separators=(",", ":"))
            )
        except (ClientError, BotoCoreError) as exc:
            raise DependencyError(f"StartSyncExecution failed ({aws.error_code(exc)})") from exc
        return WorkflowRun(status=str(response.get("status", "")), error=response.get("error"))
