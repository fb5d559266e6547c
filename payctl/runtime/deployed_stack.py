"""A template deployed into the active moto session: its resources, functions, event sources and
state machines, and the calls tests and the local stack make on it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3

from payctl.runtime import faults
from payctl.runtime.dynamodb_streams import StreamPoller, StreamSource
from payctl.runtime.execution_names import require_name
from payctl.runtime.sqs_event_sources import NO_RETRIES, EventSource, EventSourcePoller, PollResult


class LambdaFunctionError(Exception):
    """The handler raised: Lambda answered with ``FunctionError`` and an error payload."""

    def __init__(self, function_name: str, function_error: str, payload: dict[str, Any]) -> None:
        self.function_name = function_name
        self.function_error = function_error
        self.payload = payload
        self.error_type: str = payload.get("errorType", "Unknown")
        self.error_message: str = payload.get("errorMessage", "")
        self.stack_trace: list[str] = payload.get("stackTrace", [])
        super().__init__(f"{function_name}: {self.error_type}: {self.error_message}")


@dataclass(frozen=True)
class FunctionInfo:
    logical_id: str
    name: str
    arn: str
    handler: str
    code_dir: Path | None
    layer_dirs: tuple[Path, ...]
    env: dict[str, str]
    timeout: int
    memory_size: int


class StackFaults:
    """The active fault plan (shim 4), addressed by the stack's logical function ids.

    ``stack.faults.inject("ValidationFunction", "Lambda.ServiceException", times=2)`` is the short
    form for Lambda service errors; :meth:`add` takes any :class:`faults.Rule`.
    """

    def __init__(self, stack: Stack) -> None:
        self._stack = stack

    @property
    def plan(self) -> faults.FaultPlan:
        return faults.plan()

    def inject(self, function: str, error: str = "Lambda.ServiceException", times: int = 1) -> None:
        self.add(faults.Rule(faults.Kind.LAMBDA_SERVICE_ERROR, error, function=function, count=times))

    def add(self, rule: faults.Rule) -> faults.Rule:
        if rule.function is not None:
            rule.function = self._stack.function_name(rule.function)
        return faults.plan().add(rule)

    def remaining(self, function: str) -> int:
        return faults.plan().remaining(self._stack.function_name(function))

    def clear(self, function: str | None = None) -> None:
        if function is None:
            for info in self._stack.functions.values():
                faults.plan().clear(info.name)
        else:
            faults.plan().clear(self._stack.function_name(function))


@dataclass
class Stack:
    name: str
    region: str
    outputs: dict[str, str]
    resources: dict[str, str]
    resource_types: dict[str, str]
    functions: dict[str, FunctionInfo]
    event_sources: dict[str, tuple[EventSource, ...]]
    state_machines: dict[str, str]
    template: dict[str, Any]
    unsupported_resources: dict[str, str] = field(default_factory=dict)
    stream_sources: dict[str, tuple[StreamSource, ...]] = field(default_factory=dict)
    _stream_pollers: dict[str, StreamPoller] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.faults = StackFaults(self)
        # The earlier name, kept for callers written against it.
        self.lambda_faults = self.faults
        self._lambda = boto3.client("lambda", region_name=self.region, config=NO_RETRIES)
        self._sfn = boto3.client("stepfunctions", region_name=self.region, config=NO_RETRIES)

    @cached_property
    def _sqs(self) -> Any:
        return boto3.client("sqs", region_name=self.region)

    def function_name(self, logical_id_or_name: str) -> str:
        info = self.functions.get(logical_id_or_name)
        if info is not None:
            return info.name
        if any(info.name == logical_id_or_name for info in self.functions.values()):
            return logical_id_or_name
        raise KeyError(f"{logical_id_or_name!r} is not a function of stack {self.name}")

    def invoke(self, logical_id_or_name: str, event: Any) -> Any:
        """Invoke through the Lambda API; raises :class:`LambdaFunctionError` if the handler raised."""
        name = self.function_name(logical_id_or_name)
        response = self._lambda.invoke(
            FunctionName=name, InvocationType="RequestResponse", Payload=json.dumps(event).encode("utf-8")
        )
        raw = response["Payload"].read()
        payload = json.loads(raw) if raw else None
        if response.get("FunctionError"):
            raise LambdaFunctionError(name, response["FunctionError"], payload or {})
        return payload

    def state_machine_arn(self, logical_id: str | None = None) -> str:
        if logical_id is not None:
            return self.state_machines[logical_id]
        if len(self.state_machines) != 1:
            raise ValueError(f"stack has state machines {sorted(self.state_machines)}; name one")
        return next(iter(self.state_machines.values()))

    def start_sync_execution(self, input: Any, name: str, state_machine: str | None = None) -> dict[str, Any]:
        """``StartSyncExecution`` through the Step Functions API (same response as boto3)."""
        require_name(name, "StartSyncExecution")
        return self._sfn.start_sync_execution(
            stateMachineArn=self.state_machine_arn(state_machine), name=name, input=json.dumps(input)
        )

    def pollers(
        self, function_logical_id: str, *, visibility_timeout_on_failure: int | None = None
    ) -> list[EventSourcePoller]:
        sources = self.event_sources.get(function_logical_id)
        if not sources:
            raise KeyError(f"{function_logical_id!r} has no SQS event source in stack {self.name}")
        return [
            EventSourcePoller(
                source,
                self.region,
                visibility_timeout_on_failure=visibility_timeout_on_failure,
                sqs=self._sqs,
                lambda_client=self._lambda,
            )
            for source in sources
        ]

    def stream_pollers(self) -> list[StreamPoller]:
        """One poller per DynamoDB stream event source; each keeps its shards' positions."""
        pollers = self._stream_pollers
        for sources in self.stream_sources.values():
            for source in sources:
                if source.uuid not in pollers:
                    pollers[source.uuid] = StreamPoller(source, self.region, lambda_client=self._lambda)
        return list(pollers.values())

    def poll_once(
        self,
        function_logical_id: str,
        *,
        max_wait_seconds: float = 0.0,
        visibility_timeout_on_failure: int | None = None,
    ) -> PollResult:
        """One receive → invoke → delete cycle for the function's (single) SQS event source."""
        pollers = self.pollers(
            function_logical_id, visibility_timeout_on_failure=visibility_timeout_on_failure
        )
        if len(pollers) != 1:
            raise ValueError(f"{function_logical_id} has {len(pollers)} SQS event sources; use pollers()")
        return pollers[0].poll_once(max_wait_seconds=max_wait_seconds)
