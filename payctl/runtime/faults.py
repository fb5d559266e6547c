"""Shim 4 — fault injection: one seeded plan of the failures AWS can hand a payment.

Gap (moto 5.2.5): nothing in moto makes the Lambda service fail, a handler die half-way, a
dependency throttle, or a queue deliver twice, so the guarantees ("every effect survives a crash
at any point, a retry, a duplicate delivery and a replay") could only be tested on the happy path.

A :class:`FaultPlan` holds :class:`Rule` s, each a kind of fault with a rate or a count, narrowed
to a function, an AWS service and operation, a queue, or one transaction id. The runtime asks the
plan at five points, with plain values only (so the same questions can be asked for a handler
that runs in another process):

* :meth:`FaultPlan.on_invoke` before a handler runs: a Lambda service error (the handler never
  runs) or an exception inside the handler (it runs no code);
* :meth:`FaultPlan.after_invoke` after it returned: a timeout or a lost response; its effects
  happened, its caller sees an error;
* :meth:`FaultPlan.before_aws_call` before a handler's AWS call: the service's own error (for
  example DynamoDB ``ThrottlingException``, S3 ``SlowDown``) as if the SDK's retries were used up;
* :meth:`FaultPlan.after_aws_call` after a call succeeded: crash now (the process dies; the call's
  effect stays);
* :meth:`FaultPlan.duplicate_delivery` when a poller receives a message: deliver it twice.

Same seed, same faults, even under concurrency: a rate is decided by a hash of (seed, rule, point,
target, transaction id, n), where n counts the earlier evaluations of that same key, never by a
shared random stream whose order threads would change. A count fires on the first matching
evaluations; with a transaction id that order is the payment's own, without one it is the
order of arrival. Every fault that fires is recorded in :attr:`FaultPlan.fired`.

The in-process adapter at the bottom wires the plan into the runtime: botocore ``before-call`` and
``after-call`` hooks on every session, with the calling function known from a context variable
that :func:`invocation` sets around each handler. Faults come only from here, never from
product code.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from payctl.runtime._patching import Patcher
from payctl.runtime.fault_plan import (
    DEPENDENCY_ERRORS,
    EXIT_ERROR,
    HANDLER_ERROR,
    LAMBDA_STATUS,
    LOST_RESPONSE_ERROR,
    NOT_RETRIED_LAMBDA_ERRORS,
    RETRIED_LAMBDA_ERRORS,
    TIMEOUT_ERROR,
    DependencyFault,
    FaultPlan,
    Fired,
    Kind,
    LambdaFault,
    Rule,
    SimulatedCrash,
    chance,
)
from payctl.runtime.fault_transactions import (
    transaction_id_of,
    transaction_id_of_event,
    transaction_id_of_message,
)

# The plan's vocabulary is this shim's: callers name it as faults.Rule, faults.Kind, ...
__all__ = [
    "DEPENDENCY_ERRORS",
    "EXIT_ERROR",
    "GAP",
    "HANDLER_ERROR",
    "LAMBDA_STATUS",
    "LOST_RESPONSE_ERROR",
    "NOT_RETRIED_LAMBDA_ERRORS",
    "RETRIED_LAMBDA_ERRORS",
    "TIMEOUT_ERROR",
    "DependencyFault",
    "FaultPlan",
    "Fired",
    "Kind",
    "LambdaFault",
    "Rule",
    "SimulatedCrash",
    "calling_function",
    "chance",
    "deliver_duplicates",
    "install",
    "invocation",
    "lambda_service_error",
    "plan",
    "reset",
    "transaction_id_of",
    "transaction_id_of_event",
    "transaction_id_of_message",
    "use",
]

GAP = "moto cannot make Lambda, a handler, a dependency or a queue fail"


# ---------------------------------------------------------------------------- the active plan

_PLAN = FaultPlan()
_PLAN_LOCK = threading.Lock()


def plan() -> FaultPlan:
    """The plan the runtime consults (an empty one until :func:`use` installs another)."""
    return _PLAN


def use(new_plan: FaultPlan) -> FaultPlan:
    global _PLAN
    with _PLAN_LOCK:
        _PLAN = new_plan
    return new_plan


def reset() -> None:
    use(FaultPlan())


# ---------------------------------------------------------------------------- in-process adapter

_function: contextvars.ContextVar[str | None] = contextvars.ContextVar("payctl_function", default=None)
_CONTEXT_KEY: Final = "payctl_fault_transaction_id"


@contextmanager
def invocation(function_name: str) -> Iterator[None]:
    """Marks the AWS calls made inside it as this function's (the handler's own calls)."""
    token = _function.set(function_name)
    try:
        yield
    finally:
        _function.reset(token)


def calling_function() -> str | None:
    return _function.get()


def lambda_service_error(fault: LambdaFault) -> Exception:
    """The error moto's Lambda API answers with; boto3 raises it as a ClientError with that code."""
    from moto.core.exceptions import JsonRESTError

    error = JsonRESTError(fault.service_code, fault.message)
    error.code = fault.status
    return error


def _service_name(model: Any) -> str:
    return str(model.service_model.service_name)


def _remember_transaction(params: Any, model: Any, context: Any, **_: Any) -> None:
    if _function.get() is None or context is None:
        return
    context[_CONTEXT_KEY] = transaction_id_of(_service_name(model), model.name, params or {})


def _fail_before_call(model: Any, context: Any, **_: Any) -> Any:
    function = _function.get()
    if function is None:
        return None
    tid = (context or {}).get(_CONTEXT_KEY)
    fault = _PLAN.before_aws_call(function, _service_name(model), model.name, tid)
    if fault is None:
        return None
    from botocore.awsrequest import AWSResponse

    http = AWSResponse(url="", status_code=fault.status, headers={}, raw=None)
    parsed = {
        "Error": {"Code": fault.code, "Message": fault.message},
        "ResponseMetadata": {"HTTPStatusCode": fault.status, "HTTPHeaders": {}},
    }
    return http, parsed


def _crash_after_call(http_response: Any, model: Any, context: Any, **_: Any) -> None:
    function = _function.get()
    if function is None or http_response is None or http_response.status_code >= 300:
        return
    service = _service_name(model)
    if _PLAN.after_aws_call(function, service, model.name, (context or {}).get(_CONTEXT_KEY)):
        raise SimulatedCrash(f"{function} died right after {service}.{model.name} succeeded")


_HOOKS: Final = (
    ("before-parameter-build", _remember_transaction),
    ("before-call", _fail_before_call),
    ("after-call", _crash_after_call),
)


def _submit_in_context(original: Any) -> Any:
    """Work a handler hands to a thread pool is still that function's (Lambda runs a handler's
    threads in its execution environment), so its calls are attributed and faulted as such."""

    def submit(self: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        return original(self, contextvars.copy_context().run, fn, *args, **kwargs)

    return submit


def install(patcher: Patcher) -> None:
    """Register the hooks on every botocore session created from now on (as moto's own stubber is)."""
    from concurrent.futures import ThreadPoolExecutor

    from botocore import handlers

    patcher.setattr(handlers, "BUILTIN_HANDLERS", [*handlers.BUILTIN_HANDLERS, *_HOOKS], gap=GAP)
    patcher.wrap(ThreadPoolExecutor, "submit", _submit_in_context, gap=GAP)
    patcher.add_callback(reset)


def deliver_duplicates(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Send a copy of each received message the plan picks, as a standard queue may deliver twice."""
    queue_name = queue_url.rsplit("/", 1)[-1]
    for message in messages:
        if not _PLAN.duplicate_delivery(queue_name, transaction_id_of_message(message)):
            continue
        copy: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": message["Body"]}
        if message.get("MessageAttributes"):
            copy["MessageAttributes"] = message["MessageAttributes"]
        sqs.send_message(**copy)
