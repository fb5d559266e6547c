"""Shim 4 — inject Lambda *service* errors (not handler bugs) for tests.

Gap (moto 5.2.5): nothing in moto can make ``Invoke`` fail the way the Lambda service does
(throttling, internal errors), so retry policies such as the state machine's
``Retry: [Lambda.ServiceException, ...]`` cannot be exercised. An injected fault makes the next
``times`` invocations of a function raise a service error of that code before the handler runs.
Through boto3 that surfaces as a ``botocore.exceptions.ClientError``; moto's ASL interpreter turns a
``ClientError`` with code ``X`` from a ``lambda:invoke`` task into the error name ``Lambda.X``
(``StateTaskServiceLambda._error_cause_from_client_error``), exactly as Step Functions does.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

# HTTP status codes the Lambda API documents for its service-side errors.
_STATUS_BY_CODE = {
    "ServiceException": 500,
    "TooManyRequestsException": 429,
    "ResourceNotReadyException": 502,
    "EC2ThrottledException": 502,
    "ENILimitReachedException": 502,
    "SnapStartTimeoutException": 408,
}


@dataclass
class _Fault:
    code: str
    remaining: int


class FaultRegistry:
    """Pending injected faults by function name. Thread-safe: Parallel branches invoke concurrently."""

    def __init__(self) -> None:
        self._faults: dict[str, list[_Fault]] = {}
        self._lock = threading.Lock()
        self.triggered: list[tuple[str, str]] = []

    def inject(self, function_name: str, error: str = "Lambda.ServiceException", times: int = 1) -> None:
        if not error.startswith("Lambda."):
            raise ValueError(f"{error!r} is not a Lambda service error name (expected 'Lambda.<Code>')")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.setdefault(function_name, []).append(_Fault(error.removeprefix("Lambda."), times))

    def take(self, function_name: str) -> str | None:
        with self._lock:
            queue = self._faults.get(function_name)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining == 0:
                queue.pop(0)
            self.triggered.append((function_name, fault.code))
            return fault.code

    def remaining(self, function_name: str) -> int:
        with self._lock:
            return sum(fault.remaining for fault in self._faults.get(function_name, []))

    def clear(self, function_name: str | None = None) -> None:
        with self._lock:
            if function_name is None:
                self._faults.clear()
            else:
                self._faults.pop(function_name, None)


_REGISTRY = FaultRegistry()


def registry() -> FaultRegistry:
    return _REGISTRY


def raise_if_injected(function_name: str) -> None:
    """Raise the Lambda service error queued for this function, if any (called inside moto)."""
    from moto.core.exceptions import JsonRESTError

    code = _REGISTRY.take(function_name)
    if code is None:
        return
    error = JsonRESTError(code, f"Injected Lambda service fault for {function_name}")
    error.code = _STATUS_BY_CODE.get(code, 500)
    raise error
