"""Shim 10 — executions must be named.

Gap (moto 5.2.5): the executing backend's ``StartExecution`` without a ``name`` names the execution
``None`` (ARN ending ``:None``), so a second nameless start collides with the first. AWS would
generate a UUID. Our code always passes a name; this guard makes a nameless start fail loudly
rather than produce a ``None`` execution.
"""

from __future__ import annotations

from typing import Any

from payctl.runtime._patching import Patcher

GAP = "moto parser StartExecution names nameless executions None"


class MissingExecutionName(ValueError):
    """StartExecution/StartSyncExecution was called without a name."""


def require_name(name: str | None, operation: str) -> str:
    if not name:
        raise MissingExecutionName(
            f"{operation} needs an explicit execution name locally (moto would call it 'None'); "
            "pass name=..., e.g. the transaction id"
        )
    return name


def install(patcher: Patcher) -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    def wrap(original: Any) -> Any:
        def start_execution(
            self: Any, state_machine_arn: str, name: str | None = None, *args: Any, **kwargs: Any
        ) -> Any:
            require_name(name, "StartExecution")
            return original(self, state_machine_arn, name, *args, **kwargs)

        return start_execution

    patcher.wrap(StepFunctionsParserBackend, "start_execution", wrap, gap=GAP)
