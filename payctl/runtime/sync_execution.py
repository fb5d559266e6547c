"""Shim 6 — ``StartSyncExecution`` for EXPRESS state machines.

Gap (moto 5.2.5): the operation is not implemented. botocore sends it to the ``sync-states.``
host (the operation's ``endpoint.hostPrefix`` is ``sync-``), which no moto URL pattern matches, and
``StepFunctionResponse`` has no handler for it. This shim routes that host to moto's Step Functions
backend, adds the handler, and runs the execution with moto's own ``SyncExecution`` (which evaluates
the ASL in the calling thread). Express executions are not idempotent by name, so a name may repeat;
each gets a fresh ``:express:`` ARN.
"""

from __future__ import annotations

import copy
import datetime
import json
import math
import re
import uuid
from typing import Any

from payctl.runtime import execution_names
from payctl.runtime._patching import Patcher

GAP = "moto does not implement StartSyncExecution"

SYNC_HOST_PATTERN = r"https?://sync-states\.(.+)\.amazonaws.com"

# Express executions bill at least 100 ms and per 64 MB step of memory.
_MIN_BILLED_MS = 100
_BILLED_MEMORY_MB = 64


def _error(code: str, message: str) -> Exception:
    from moto.stepfunctions.exceptions import AWSError

    return AWSError(message, exception_type=code, status=400)


def start_sync_execution(
    backend: Any,
    state_machine_arn: str,
    name: str | None,
    execution_input: str | None,
    trace_header: str | None = None,
) -> Any:
    """Run an EXPRESS execution to completion in this thread; returns moto's ``SyncExecution``."""
    from moto.stepfunctions.parser.backend.execution import SyncExecution

    name = execution_names.require_name(name, "StartSyncExecution")
    state_machine = backend.describe_state_machine(state_machine_arn)
    if getattr(state_machine, "type", "STANDARD") != "EXPRESS":
        raise _error(
            "StateMachineTypeNotSupported",
            "This operation is not supported by this type of state machine",
        )
    input_text = execution_input if execution_input is not None else "{}"
    try:
        json.loads(input_text)
    except ValueError as exc:
        raise _error("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{exc}'") from exc

    # A snapshot so a concurrent UpdateStateMachine cannot change a running execution's definition;
    # the definition string itself is immutable, so a shallow copy is enough.
    snapshot = copy.copy(state_machine)
    execution_arn = (
        f"arn:{backend.partition}:states:{backend.region_name}:{backend.account_id}:express:"
        f"{state_machine.name}:{name}:{uuid.uuid4()}"
    )
    execution = SyncExecution(
        name=name,
        sm_type=state_machine.sm_type,
        role_arn=state_machine.roleArn,
        exec_arn=execution_arn,
        account_id=backend.account_id,
        region_name=backend.region_name,
        state_machine=snapshot,
        start_date=datetime.datetime.now(tz=datetime.UTC),
        cloud_watch_logging_session=None,
        activity_store={},
        input_data=input_text,
        trace_header=trace_header,
    )
    execution.start()
    return execution


def sync_execution_output(execution: Any) -> dict[str, Any]:
    output = dict(execution.to_start_sync_execution_output())
    elapsed = (execution.stop_date - execution.start_date).total_seconds() * 1000
    output["billingDetails"] = {
        "billedMemoryUsedInMB": _BILLED_MEMORY_MB,
        "billedDurationInMilliseconds": max(_MIN_BILLED_MS, math.ceil(elapsed)),
    }
    if output.get("traceHeader") is None:
        output.pop("traceHeader", None)
    return output


def _response_start_sync_execution(self: Any) -> Any:
    from moto.core.responses import ActionResult

    execution = start_sync_execution(
        self.stepfunction_backend,
        self._get_param("stateMachineArn"),
        self._get_param("name"),
        self._get_param("input", if_none="{}"),
        self._get_param("traceHeader"),
    )
    return ActionResult(sync_execution_output(execution))


def install(patcher: Patcher) -> None:
    from moto import backend_index
    from moto.stepfunctions import urls as sfn_urls
    from moto.stepfunctions.responses import StepFunctionResponse

    patcher.setattr(
        StepFunctionResponse, "start_sync_execution", _response_start_sync_execution, gap=GAP, create=True
    )

    sync_pattern = ("stepfunctions", re.compile(SYNC_HOST_PATTERN))
    backend_index.backend_url_patterns.append(sync_pattern)
    patcher.add_callback(lambda: backend_index.backend_url_patterns.remove(sync_pattern))

    sfn_urls.url_bases.append(SYNC_HOST_PATTERN)
    patcher.add_callback(lambda: sfn_urls.url_bases.remove(SYNC_HOST_PATTERN))
