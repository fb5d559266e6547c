"""The local runtime: the real template, handlers and state machine on in-process moto.

``moto_session()`` starts moto with every shim for the moto gaps listed in DESIGN.md; ``deploy()``
creates the template's stack in it and returns a :class:`Stack`.
"""

from payctl.runtime._patching import TESTED_MOTO_VERSIONS, UntestedMotoVersion
from payctl.runtime._state import EnvironmentConflict, RuntimeNotActive
from payctl.runtime.deployed_stack import FunctionInfo, LambdaFunctionError, Stack
from payctl.runtime.deployment import DeployFailed, deploy
from payctl.runtime.execution_names import MissingExecutionName
from payctl.runtime.lambda_dispatch import LocalCodeUnavailable
from payctl.runtime.session import moto_session, set_retry_wait_scale, set_speedups
from payctl.runtime.sqs_event_sources import EventSource, EventSourcePoller, PollResult

__all__ = [
    "TESTED_MOTO_VERSIONS",
    "DeployFailed",
    "EnvironmentConflict",
    "EventSource",
    "EventSourcePoller",
    "FunctionInfo",
    "LambdaFunctionError",
    "LocalCodeUnavailable",
    "MissingExecutionName",
    "PollResult",
    "RuntimeNotActive",
    "Stack",
    "UntestedMotoVersion",
    "deploy",
    "moto_session",
    "set_retry_wait_scale",
    "set_speedups",
]
