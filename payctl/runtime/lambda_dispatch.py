"""Shim 3 — Lambda ``Invoke`` runs the real handler.

Gap (moto 5.2.5): without Docker, ``LambdaSimpleBackend.invoke`` never runs code; it echoes the
request body (or a canned string) back, even for a function that does not exist. This shim replaces
it: the function must exist in moto (else ``ResourceNotFoundException``), its handler is imported
from the directory its template ``CodeUri`` named (with its layers' directories importable), and a
handler exception becomes a ``FunctionError: Unhandled`` response with Lambda's ``{errorMessage,
errorType, stackTrace}`` payload, so a state machine sees the exception class name as the error name.

Where the handler runs is the session's choice:

- ``"process"`` (the local stack's default): in execution environments, one process each, as Lambda
  runs them (``lambda_environments.py``): isolated module state and environment, cold starts,
  enforced ``Timeout`` and ``MemorySize``, throttling beyond the function's concurrency.
- ``"inline"`` (for tests that observe a handler from inside the process): in this process, one
  invocation per function at a time, so two invocations of a function never share module state
  concurrently; every function's configured environment is applied to the shared process, so
  functions must agree on the value of a variable they share.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from payctl.runtime import _state, faults
from payctl.runtime._patching import Patcher
from payctl.runtime.lambda_environments import Throttled
from payctl.runtime.lambda_payloads import (
    LambdaContext,
    context_fields,
    exception_payload,
    lambda_error_payload,
    load_handler,
    marshal,
)
from payctl.runtime.worker_process import FunctionSpec

GAP = "moto LambdaSimpleBackend.invoke echoes its input"

logger = logging.getLogger(__name__)


class LocalCodeUnavailable(RuntimeError):
    """The function exists in moto but was not deployed from local source, so nothing can run it."""


def build_context(fn: Any, qualifier: str | None) -> LambdaContext:
    version = str(fn.version) if fn.version else "$LATEST"
    return LambdaContext(
        **context_fields(fn.function_name, version, fn.function_arn, fn.memory_size, fn.timeout, qualifier)
    )


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    wanted = name.lower()
    for key, value in dict(headers).items():
        if str(key).lower() == wanted:
            return str(value)
    return None


def _decode_event(body: Any) -> Any:
    from moto.core.exceptions import JsonRESTError

    if body is None or body in (b"", ""):
        return {}
    text = body.decode("utf-8") if isinstance(body, bytes) else str(body)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonRESTError(
            "InvalidRequestContentException", f"Could not parse request body into json: {exc}"
        ) from exc


def _load_handler(local: _state.LocalFunction, handler: str) -> Any:
    if local._handler_callable is None or local._handler_callable[0] != handler:
        local._handler_callable = (handler, load_handler(handler, local.code_dir))
    return local._handler_callable[1]


def _local_function(fn: Any) -> _state.LocalFunction:
    local = _state.current().functions.get(fn.function_name)
    if local is None:
        raise LocalCodeUnavailable(
            f"function {fn.function_name} exists in moto but was not deployed from a local CodeUri, "
            "so the local runtime has no code to run for it"
        )
    return local


def run_handler(fn: Any, qualifier: str | None, event: Any) -> tuple[bytes, bool]:
    """Run the real handler for moto function ``fn`` in this process. Returns (payload, errored).

    A simulated crash (the fault plan's crash after an AWS call) becomes ``Runtime.ExitError``.
    """
    state = _state.current()
    local = _local_function(fn)
    # Registering the function and its layers' sources already made their directories importable.
    _layer_dirs(state, fn)
    assert state.function_envs is not None
    with local.invocation_lock:
        state.function_envs.claim(fn.function_name, fn.environment_vars)
        context = build_context(fn, qualifier)
        request_id = context.aws_request_id
        try:
            handler = _load_handler(local, fn.handler)
        except (ImportError, SyntaxError) as exc:
            logger.error("%s: cannot import handler %s: %s", fn.function_name, fn.handler, exc)
            message = f"Unable to import module '{fn.handler.rpartition('.')[0]}': {exc}"
            return lambda_error_payload("Runtime.ImportModuleError", message, request_id, []), True
        except AttributeError as exc:
            return lambda_error_payload("Runtime.HandlerNotFound", str(exc), request_id, []), True

        try:
            with faults.invocation(fn.function_name):
                result = handler(event, context)
        except faults.SimulatedCrash as crash:
            return lambda_error_payload(faults.EXIT_ERROR, str(crash), request_id, []), True
        except Exception as exc:
            logger.info("%s raised %s: %s", fn.function_name, type(exc).__name__, exc, exc_info=True)
            return exception_payload(exc, request_id, __file__), True
        return marshal(result, request_id)


def _layer_dirs(state: _state.RuntimeState, fn: Any) -> tuple[Path, ...]:
    dirs = []
    for layer in fn.layers or []:
        if layer["Arn"] not in state.layer_dirs:
            raise LocalCodeUnavailable(f"{fn.function_name}: layer {layer['Arn']} has no local source")
        dirs.append(state.layer_dirs[layer["Arn"]])
    return tuple(dirs)


def function_spec(state: _state.RuntimeState, fn: Any) -> FunctionSpec:
    """What an execution environment of moto function ``fn`` is made from."""
    assert state.environments is not None
    reserved = fn.reserved_concurrency
    return FunctionSpec(
        name=fn.function_name,
        arn=fn.function_arn,
        version=str(fn.version) if fn.version else "$LATEST",
        handler=fn.handler,
        code_dir=_local_function(fn).code_dir,
        layer_dirs=_layer_dirs(state, fn),
        variables=tuple(sorted((str(k), str(v)) for k, v in (fn.environment_vars or {}).items())),
        timeout=int(fn.timeout),
        memory_mb=int(fn.memory_size),
        concurrency=int(reserved) if reserved else state.environments.account_concurrency,
        region=state.region,
    )


def run_invocation(
    fn: Any, qualifier: str | None, body: bytes, event: Any, injected: faults.LambdaFault | None = None
) -> tuple[bytes, bool]:
    """Run one invocation where the session runs handlers: an execution environment, or inline.

    ``injected`` is a fault the plan chose for this invocation (shim 4): an exception inside the
    handler before it does anything. After the handler, the plan may turn a finished invocation
    into a timeout or a lost response.
    """
    if injected is not None and injected.kind is faults.Kind.HANDLER_ERROR:
        request_id = build_context(fn, qualifier).aws_request_id
        return lambda_error_payload(injected.error, injected.message, request_id, []), True
    state = _state.current()
    if state.environments is None:
        payload, errored = run_handler(fn, qualifier, event)
    else:
        payload, errored = state.environments.invoke(function_spec(state, fn), body, qualifier)
    late = faults.plan().after_invoke(fn.function_name, faults.transaction_id_of_event(event))
    if late is not None and late.kind is faults.Kind.TIMEOUT:
        request_id = build_context(fn, qualifier).aws_request_id
        message = f"{request_id} Task timed out after {int(fn.timeout)}.00 seconds"
        return lambda_error_payload(late.error, message, request_id, []), True
    if late is not None:
        raise faults.lambda_service_error(late)
    return payload, errored


def _throttled(function_name: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    error = JsonRESTError("TooManyRequestsException", "Rate Exceeded.")
    error.code = 429
    return error


def _dispatching_invoke(
    self: Any,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> bytes:
    fn = self.get_function(function_name, qualifier)
    invocation_type = _header(headers, "x-amz-invocation-type") or "RequestResponse"
    event = _decode_event(body)
    raw = body if isinstance(body, bytes) else str(body or "").encode("utf-8")
    injected = faults.plan().on_invoke(fn.function_name, faults.transaction_id_of_event(event))
    if injected is not None and injected.kind is faults.Kind.LAMBDA_SERVICE_ERROR:
        raise faults.lambda_service_error(injected)
    _local_function(fn)
    response_headers["x-amz-executed-version"] = str(fn.version) if fn.version else "$LATEST"
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        worker = threading.Thread(
            target=run_invocation,
            args=(fn, qualifier, raw, event, injected),
            name=f"lambda-event-{fn.function_name}",
        )
        worker.daemon = True
        worker.start()
        return b""
    try:
        payload, errored = run_invocation(fn, qualifier, raw, event, injected)
    except Throttled:
        raise _throttled(fn.function_name) from None
    if errored:
        response_headers["x-amz-function-error"] = "Unhandled"
    response_headers["Content-Length"] = str(len(payload))
    return payload


def cold_start(directories: Iterable[Path]) -> list[str]:
    """Forget every module loaded from these code/layer directories (a new deployment's cold start).

    Lambda runs a new deployment in fresh execution environments, so module-level state (cached
    settings, clients, adapters bound to table names) never outlives a deploy. All handlers share
    this process, so without this a second deploy (other parameters, other table names) would reuse
    the first one's cached state. The next invocation imports the modules afresh.
    """
    roots = tuple(os.path.join(os.path.abspath(directory), "") for directory in directories)
    evicted = []
    for name, module in list(sys.modules.items()):
        location = getattr(module, "__file__", None)
        if location and os.path.abspath(location).startswith(roots):
            del sys.modules[name]
            evicted.append(name)
    if _state.is_active():
        for local in _state.current().functions.values():
            local._handler_callable = None
    return evicted


def register_function_code(fn: Any) -> _state.LocalFunction | None:
    """Remember where a function's code lives, if moto got it from a staged local directory."""
    if not _state.is_active():
        return None
    state = _state.current()
    code = fn.code or {}
    code_dir = state.artifact_dir(code.get("S3Bucket"), code.get("S3Key"))
    if code_dir is None:
        return None
    local = _state.LocalFunction(name=fn.function_name, code_dir=code_dir)
    with state.lock:
        state.functions[fn.function_name] = local
    state.import_roots.add(code_dir)
    return local


def install(patcher: Patcher) -> None:
    from moto.awslambda.models import LambdaBackend
    from moto.awslambda_simple.models import LambdaSimpleBackend

    patcher.setattr(LambdaSimpleBackend, "invoke", _dispatching_invoke, gap=GAP)

    def wrap_create_function(original: Any) -> Any:
        def create_function(self: Any, spec: dict[str, Any]) -> Any:
            fn = original(self, spec)
            register_function_code(self.get_function(fn.function_name))
            return fn

        return create_function

    patcher.wrap(LambdaBackend, "create_function", wrap_create_function, gap=GAP)
