"""Shim 3 — Lambda ``Invoke`` runs the real handler in-process.

Gap (moto 5.2.5): without Docker, ``LambdaSimpleBackend.invoke`` never runs code; it echoes the
request body (or a canned string) back, even for a function that does not exist. This shim replaces
it: the function must exist in moto (else ``ResourceNotFoundException``), its handler is imported
from the directory its template ``CodeUri`` named (with its layers' directories importable), its
configured environment is applied to the shared process, and a handler exception becomes a
``FunctionError: Unhandled`` response with Lambda's ``{errorMessage, errorType, stackTrace}``
payload, so a state machine sees the exception class name as the error name.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from payctl.runtime import _state, faults
from payctl.runtime._patching import Patcher

GAP = "moto LambdaSimpleBackend.invoke echoes its input"

logger = logging.getLogger(__name__)


class LocalCodeUnavailable(RuntimeError):
    """The function exists in moto but was not deployed from local source, so nothing can run it."""


class HandlerSourceMismatch(RuntimeError):
    """The handler module imported from somewhere other than the function's code directory."""


@dataclass
class CognitoIdentity:
    cognito_identity_id: str | None = None
    cognito_identity_pool_id: str | None = None


@dataclass
class LambdaContext:
    """The attributes and methods of the Python runtime's context object."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: str
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_ms: int
    identity: CognitoIdentity = field(default_factory=CognitoIdentity)
    client_context: Any = None
    tenant_id: str | None = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


def build_context(fn: Any, qualifier: str | None) -> LambdaContext:
    today = time.strftime("%Y/%m/%d", time.gmtime())
    version = str(fn.version) if fn.version else "$LATEST"
    return LambdaContext(
        function_name=fn.function_name,
        function_version=version,
        invoked_function_arn=fn.function_arn + (f":{qualifier}" if qualifier else ""),
        # The Python runtime reads it from AWS_LAMBDA_FUNCTION_MEMORY_SIZE, so it is a string.
        memory_limit_in_mb=str(fn.memory_size),
        aws_request_id=str(uuid.uuid4()),
        log_group_name=f"/aws/lambda/{fn.function_name}",
        log_stream_name=f"{today}/[{version}]{uuid.uuid4().hex}",
        deadline_ms=int(time.time() * 1000) + int(fn.timeout) * 1000,
    )


def lambda_error_payload(error_type: str, message: str, request_id: str, stack: list[str]) -> bytes:
    return json.dumps(
        {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack},
        ensure_ascii=False,
    ).encode("utf-8")


def exception_payload(exc: BaseException, request_id: str) -> bytes:
    # Lambda's stackTrace starts at the handler; drop this module's own calling frame.
    frames = traceback.extract_tb(exc.__traceback__)
    stack = traceback.format_list([frame for frame in frames if frame.filename != __file__])
    return lambda_error_payload(type(exc).__name__, str(exc), request_id, stack)


def dumps_like_lambda(result: Any) -> bytes:
    """Serialise a handler result as the Python runtime does: Decimals as exact JSON numbers."""
    marker = uuid.uuid4().hex

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"{marker}{value}{marker}"
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    text = json.dumps(result, default=default, ensure_ascii=False)
    if marker in text:
        text = re.sub(f'"{marker}(.*?){marker}"', lambda match: match.group(1), text)
    return text.encode("utf-8")


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
    if local._handler_callable is not None and local._handler_callable[0] == handler:
        return local._handler_callable[1]
    module_name, _, attribute = handler.rpartition(".")
    module = importlib.import_module(module_name)
    module_file = Path(getattr(module, "__file__", "") or "").resolve()
    if local.code_dir not in module_file.parents:
        raise HandlerSourceMismatch(
            f"{local.name}: handler module {module_name} was imported from {module_file}, not from its "
            f"code directory {local.code_dir}; two code directories define the same package name"
        )
    function = getattr(module, attribute, None)
    if not callable(function):
        raise AttributeError(f"Handler '{attribute}' missing on module '{module_name}'")
    local._handler_callable = (handler, function)
    return function


def _local_function(fn: Any) -> _state.LocalFunction:
    local = _state.current().functions.get(fn.function_name)
    if local is None:
        raise LocalCodeUnavailable(
            f"function {fn.function_name} exists in moto but was not deployed from a local CodeUri, "
            "so the local runtime has no code to run for it"
        )
    return local


def run_handler(
    fn: Any, qualifier: str | None, event: Any, injected: faults.LambdaFault | None = None
) -> tuple[bytes, bool]:
    """Run the real handler for moto function ``fn``. Returns (payload, errored).

    ``injected`` is a fault the plan chose for this invocation (shim 4): an exception inside the
    handler before it does anything. After the handler, the plan may turn a finished invocation
    into a timeout or a lost response, and a simulated crash becomes ``Runtime.ExitError``.
    """
    state = _state.current()
    local = _local_function(fn)
    # Registering the function and its layers' sources already made their directories importable.
    for layer in fn.layers or []:
        if layer["Arn"] not in state.layer_dirs:
            raise LocalCodeUnavailable(f"{fn.function_name}: layer {layer['Arn']} has no local source")
    assert state.function_envs is not None
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

    if injected is not None and injected.kind is faults.Kind.HANDLER_ERROR:
        return lambda_error_payload(injected.error, injected.message, request_id, []), True
    try:
        with faults.invocation(fn.function_name):
            result = handler(event, context)
    except faults.SimulatedCrash as crash:
        return lambda_error_payload(faults.EXIT_ERROR, str(crash), request_id, []), True
    except Exception as exc:
        logger.info("%s raised %s: %s", fn.function_name, type(exc).__name__, exc, exc_info=True)
        return exception_payload(exc, request_id), True
    late = faults.plan().after_invoke(fn.function_name, faults.transaction_id_of_event(event))
    if late is not None and late.kind is faults.Kind.TIMEOUT:
        message = f"{request_id} Task timed out after {int(fn.timeout)}.00 seconds"
        return lambda_error_payload(late.error, message, request_id, []), True
    if late is not None:
        raise faults.lambda_service_error(late)
    try:
        return dumps_like_lambda(result), False
    except (TypeError, ValueError) as exc:
        message = f"Unable to marshal response: {exc}"
        return lambda_error_payload("Runtime.MarshalError", message, request_id, []), True


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
    injected = faults.plan().on_invoke(fn.function_name, faults.transaction_id_of_event(event))
    if injected is not None and injected.kind is faults.Kind.LAMBDA_SERVICE_ERROR:
        raise faults.lambda_service_error(injected)
    _local_function(fn)
    response_headers["x-amz-executed-version"] = str(fn.version) if fn.version else "$LATEST"
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        worker = threading.Thread(
            target=run_handler, args=(fn, qualifier, event, injected), name=f"lambda-event-{fn.function_name}"
        )
        worker.daemon = True
        worker.start()
        return b""
    payload, errored = run_handler(fn, qualifier, event, injected)
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
