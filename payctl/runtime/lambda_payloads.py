"""What the Lambda Python runtime hands a handler and answers for it: the context, error payloads.

Shared by the in-process runner and the execution environments' worker, so it imports nothing of
moto (a worker must start as fast as a Lambda runtime does).
"""

from __future__ import annotations

import importlib
import json
import re
import time
import traceback
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any


class HandlerSourceMismatch(ImportError):
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


def context_fields(
    function_name: str,
    version: str,
    function_arn: str,
    memory_size: int,
    timeout_seconds: float,
    qualifier: str | None = None,
    log_stream_name: str | None = None,
) -> dict[str, Any]:
    """The context of one invocation, as plain values (they cross into an execution environment)."""
    today = time.strftime("%Y/%m/%d", time.gmtime())
    return {
        "function_name": function_name,
        "function_version": version,
        "invoked_function_arn": function_arn + (f":{qualifier}" if qualifier else ""),
        # The Python runtime reads it from AWS_LAMBDA_FUNCTION_MEMORY_SIZE, so it is a string.
        "memory_limit_in_mb": str(memory_size),
        "aws_request_id": str(uuid.uuid4()),
        "log_group_name": f"/aws/lambda/{function_name}",
        "log_stream_name": log_stream_name or f"{today}/[{version}]{uuid.uuid4().hex}",
        "deadline_ms": int(time.time() * 1000) + int(timeout_seconds * 1000),
    }


def lambda_error_payload(error_type: str, message: str, request_id: str, stack: list[str]) -> bytes:
    return json.dumps(
        {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack},
        ensure_ascii=False,
    ).encode("utf-8")


def runtime_error_payload(error_type: str, detail: str, request_id: str) -> bytes:
    """An error of the Lambda service itself (a timeout, an exited runtime): no stack trace."""
    return lambda_error_payload(error_type, f"RequestId: {request_id} Error: {detail}", request_id, [])


def exception_payload(exc: BaseException, request_id: str, runner_file: str) -> bytes:
    # Lambda's stackTrace starts at the handler; drop the runner's own calling frame.
    frames = traceback.extract_tb(exc.__traceback__)
    stack = traceback.format_list([frame for frame in frames if frame.filename != runner_file])
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


def decode_event(body: bytes) -> Any:
    return json.loads(body.decode("utf-8")) if body else {}


def load_handler(handler: str, code_dir: Path) -> Any:
    """Import ``module.function`` and check it came from the function's own code directory."""
    module_name, _, attribute = handler.rpartition(".")
    module = importlib.import_module(module_name)
    module_file = Path(getattr(module, "__file__", "") or "").resolve()
    if code_dir not in module_file.parents:
        raise HandlerSourceMismatch(
            f"handler module {module_name} was imported from {module_file}, not from its code "
            f"directory {code_dir}; two code directories define the same package name"
        )
    function = getattr(module, attribute, None)
    if not callable(function):
        raise AttributeError(f"Handler '{attribute}' missing on module '{module_name}'")
    return function


def marshal(result: Any, request_id: str) -> tuple[bytes, bool]:
    """A handler's result as Lambda answers it, or the runtime's error if it cannot be serialised."""
    try:
        return dumps_like_lambda(result), False
    except (TypeError, ValueError) as exc:
        message = f"Unable to marshal response: {exc}"
        return lambda_error_payload("Runtime.MarshalError", message, request_id, []), True
