"""Lambda execution environments: one process each, one invocation at a time, as Lambda runs them.

Gap (moto 5.2.5, and the in-process runner): without Docker moto runs no code, and running every
handler as a thread of one process shares each function's module state (the Powertools resolver,
the Logger, cached settings) between concurrent invocations, which corrupted responses under load.
Here a function gets execution environments the way Lambda gives them:

- An environment is a ``payctl.runtime.lambda_worker`` process with exactly its function's
  environment variables (the template's and Lambda's own), its code directory and its layers on
  ``PYTHONPATH``, and its own import of the handler. Its first invocation waits for init (a cold
  start, logged as ``Init Duration``); later ones reuse it warm.
- An environment runs one invocation at a time. A concurrent invocation gets an idle environment
  or a new one, up to the function's concurrency (``ReservedConcurrentExecutions``, else the
  account's limit); beyond that ``Invoke`` is throttled with ``TooManyRequestsException`` (429).
- ``Timeout`` is enforced: the invocation fails with ``Sandbox.Timedout`` and the environment is
  discarded. So is ``MemorySize``: an environment whose resident memory exceeds it is killed and the
  invocation fails with ``Runtime.OutOfMemory``. A runtime that dies (a crash, ``os._exit``) fails
  the invocation with ``Runtime.ExitError``.
- The handler's AWS calls come back over the environment's socket as the HTTP requests botocore
  prepared; this process answers them from moto (through the same stubber, and lock, as in-process
  calls), so moto's state stays in one place. The thread that invoked serves them while it waits.
  A call that runs other work to its end (an ``Invoke``, a ``StartSyncExecution``) is answered
  from its own thread, so the environment's other threads keep being served.

An :class:`Interceptor` sees every relayed call before and after moto answers it: the runtime's
fault injection hooks in there, never in product code.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from payctl.runtime.lambda_payloads import context_fields, runtime_error_payload
from payctl.runtime.locking import waits_on_other_work
from payctl.runtime.relay_answers import Answer, Headers, MotoAnswerer
from payctl.runtime.worker_process import Environment, FunctionSpec

logger = logging.getLogger("payctl.runtime.lambda")

# AWS's default account concurrency. A function without ReservedConcurrentExecutions may scale to it.
DEFAULT_ACCOUNT_CONCURRENCY = 1000
# Lambda limits the init phase to 10 s. Locally, a loaded machine may start many environments at
# once (a burst of API requests), so init gets this long before the invocation counts as timed out.
INIT_GRACE_SECONDS = 60.0
_POLL_SECONDS = 0.1

# Variables the Python runtime sets in every environment (besides the function's own).
_RUNTIME_VARIABLES = {
    "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
}


class Throttled(Exception):
    """Every environment of the function is busy and it may not get another one."""


class Interceptor(Protocol):
    def transaction_id(self, meta: Mapping[str, Any], url: str, body: bytes) -> str | None:
        """The payment a relayed call is about, if any."""

    def before_call(self, function_name: str, meta: Mapping[str, Any]) -> Answer | None:
        """An answer to send instead of moto's (an injected dependency error), or None."""

    def after_call(self, function_name: str, meta: Mapping[str, Any], status: int) -> bool:
        """True to end the environment right after moto answered (a crash after the call)."""


@dataclass
class FunctionStats:
    """What the REPORT lines said, per function (for benchmarks and the cost model)."""

    cold_starts: int = 0
    init_ms: list[float] = field(default_factory=list)
    invocations: int = 0
    duration_ms: list[float] = field(default_factory=list)
    throttles: int = 0
    timeouts: int = 0
    out_of_memory: int = 0
    exits: int = 0


class _Ended(Exception):
    def __init__(self, error_type: str, detail: str) -> None:
        super().__init__(detail)
        self.error_type = error_type
        self.detail = detail


class ExecutionEnvironments:
    """The execution environments of every function of the active runtime."""

    def __init__(
        self,
        *,
        account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY,
        base_environment: Mapping[str, str] | None = None,
        answer: Callable[[str, str, Headers, bytes], Answer] | None = None,
    ) -> None:
        self.account_concurrency = account_concurrency
        self.base_environment = dict(base_environment or {})
        self.interceptor: Interceptor | None = None
        self._answer = answer or MotoAnswerer()
        self._cond = threading.Condition()
        self._idle: dict[FunctionSpec, list[Environment]] = {}
        self._all: dict[FunctionSpec, set[Environment]] = {}
        self._starting: dict[FunctionSpec, int] = {}
        self._waiting: dict[FunctionSpec, int] = {}
        self._in_flight: dict[FunctionSpec, int] = {}
        self._init_failures: dict[FunctionSpec, list[bytes]] = {}
        self._init_slots = threading.Semaphore(max(2, os.cpu_count() or 2))
        self.stats: dict[str, FunctionStats] = {}
        self._closed = False
        self._ended_cpu = 0.0

    # ------------------------------------------------------------------ environments

    def _environment_variables(self, spec: FunctionSpec, log_stream: str) -> dict[str, str]:
        python_path = os.pathsep.join([str(spec.code_dir), *(str(path) for path in spec.layer_dirs)])
        return {
            **{key: value for key, value in os.environ.items() if key in ("PATH", "HOME")},
            **_RUNTIME_VARIABLES,
            **self.base_environment,
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            "PYTHONPATH": python_path,
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            **dict(spec.variables),
        }

    def _start(self, spec: FunctionSpec) -> None:
        """Start and init one environment (in its own thread); it joins the idle ones when ready."""
        stats = self.stats.setdefault(spec.name, FunctionStats())
        with self._init_slots:
            stream = time.strftime("%Y/%m/%d", time.gmtime()) + f"/[{spec.version}]{os.urandom(16).hex()}"
            environment = Environment(spec, self._environment_variables(spec, stream))
            environment.log_stream = stream
            with self._cond:
                self._all.setdefault(spec, set()).add(environment)
            failure: bytes | None = None
            try:
                self._init(environment, stats)
            except _InitFailed as failed:
                failure = failed.payload
            except _Ended as ended:
                failure = runtime_error_payload(ended.error_type, f"init: {ended.detail}", "")
        with self._cond:
            self._starting[spec] -= 1
            if failure is None and not self._closed:
                self._idle.setdefault(spec, []).append(environment)
            else:
                self._all.get(spec, set()).discard(environment)
                if failure is not None:
                    self._init_failures.setdefault(spec, []).append(failure)
            self._cond.notify_all()
        if failure is not None or self._closed:
            environment.kill()

    def _acquire(self, spec: FunctionSpec) -> Environment:
        """An idle environment of the function, waiting for one to be started if there is none.

        An invocation that finds no idle environment starts one, as Lambda does, but it takes
        whichever environment is free first: the new one once its init is done, or one that
        finished another invocation meanwhile. Inits run at most a core's worth at a time, so a
        burst of requests on a cold function is served in seconds instead of all its inits
        sharing the CPU. (Lambda binds a request to the environment started for it; here, as
        there, every environment runs one invocation at a time.)
        """
        deadline = time.monotonic() + INIT_GRACE_SECONDS + spec.timeout
        with self._cond:
            if self._closed:
                raise RuntimeError("the local runtime's execution environments are shut down")
            if self._in_flight.get(spec, 0) >= spec.concurrency:
                self.stats.setdefault(spec.name, FunctionStats()).throttles += 1
                raise Throttled(spec.name)
            self._in_flight[spec] = self._in_flight.get(spec, 0) + 1
            self._waiting[spec] = self._waiting.get(spec, 0) + 1
            try:
                while True:
                    idle = self._idle.setdefault(spec, [])
                    if idle:
                        return idle.pop()
                    failures = self._init_failures.get(spec)
                    if failures:
                        raise _InitFailed(failures.pop())
                    starting = self._starting.get(spec, 0)
                    total = len(self._all.get(spec, set())) + starting
                    if starting < self._waiting[spec] and total < spec.concurrency:
                        self._starting[spec] = starting + 1
                        threading.Thread(
                            target=self._start, args=(spec,), name=f"init-{spec.name}", daemon=True
                        ).start()
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise _Ended("Sandbox.Timedout", "no execution environment was ready in time")
                    self._cond.wait(min(remaining, 1.0))
            except BaseException:
                self._in_flight[spec] -= 1
                raise
            finally:
                self._waiting[spec] -= 1

    def _release(self, environment: Environment) -> None:
        spec = environment.spec
        with self._cond:
            self._in_flight[spec] -= 1
            if environment.alive and not self._closed:
                self._idle.setdefault(spec, []).append(environment)
                self._cond.notify_all()
                return
            self._all.get(spec, set()).discard(environment)
        if environment.alive:
            environment.close()
        with self._cond:
            self._ended_cpu += environment.cpu_used

    def close(self) -> None:
        with self._cond:
            self._closed = True
            environments = [env for group in self._all.values() for env in group]
            self._idle.clear()
            self._all.clear()
            self._cond.notify_all()
        for environment in environments:
            environment.close()

    def cpu_seconds(self) -> float:
        """CPU time every environment has used, the ended ones included (for benchmarks)."""
        with self._cond:
            live = [env for group in self._all.values() for env in group]
            ended = self._ended_cpu
        return ended + sum(env.cpu_seconds() for env in live)

    def environment_count(self, function_name: str | None = None) -> int:
        with self._cond:
            return sum(len(group) for spec, group in self._all.items() if function_name in (None, spec.name))

    # ------------------------------------------------------------------ invoking

    def invoke(self, spec: FunctionSpec, body: bytes, qualifier: str | None = None) -> tuple[bytes, bool]:
        """Run one invocation; returns (payload, errored) like Lambda's ``Invoke``. Raises Throttled."""
        stats = self.stats.setdefault(spec.name, FunctionStats())
        try:
            environment = self._acquire(spec)
        except _InitFailed as failed:
            return failed.payload, True
        except _Ended as ended:
            stats.timeouts += 1
            return runtime_error_payload(ended.error_type, ended.detail, ""), True
        cold, environment.fresh = environment.fresh, False
        fields = context_fields(
            spec.name, spec.version, spec.arn, spec.memory_mb, spec.timeout, qualifier, environment.log_stream
        )
        request_id = fields["aws_request_id"]
        try:
            started = time.perf_counter()
            environment.send(("invoke", request_id, body, fields))
            deadline = time.monotonic() + spec.timeout
            result = self._serve(environment, "result", deadline)
            duration = (time.perf_counter() - started) * 1000
            _, _, payload, errored, max_rss_kb = result
            stats.invocations += 1
            stats.duration_ms.append(duration)
            self._check_memory(environment, max_rss_kb * 1024)
            init_ms = environment.init_ms if cold else None
            self._report(spec, request_id, duration, max_rss_kb // 1024, init_ms)
            if errored:
                detail = payload[:1000].decode("utf-8", "replace")
                logger.info("%s: the handler raised: %s", spec.name, detail)
            return payload, errored
        except _Ended as ended:
            environment.kill()
            if ended.error_type == "Sandbox.Timedout":
                stats.timeouts += 1
            elif ended.error_type == "Runtime.OutOfMemory":
                stats.out_of_memory += 1
            else:
                stats.exits += 1
            logger.warning("%s environment %s ended: %s", spec.name, environment.number, ended.detail)
            return runtime_error_payload(ended.error_type, ended.detail, request_id), True
        finally:
            self._release(environment)

    def _init(self, environment: Environment, stats: FunctionStats) -> None:
        deadline = time.monotonic() + INIT_GRACE_SECONDS + environment.spec.timeout
        message = self._serve(environment, ("ready", "init_error"), deadline)
        if message[0] == "init_error":
            logger.error("%s: init failed: %s", environment.spec.name, message[1][:500])
            raise _InitFailed(message[1])
        environment.init_ms = (time.perf_counter() - environment._started) * 1000
        stats.cold_starts += 1
        stats.init_ms.append(environment.init_ms)

    def _check_memory(self, environment: Environment, peak_bytes: int) -> None:
        limit = environment.spec.memory_mb * 1024 * 1024
        if max(peak_bytes, environment.rss_bytes()) > limit:
            raise _Ended("Runtime.OutOfMemory", "Runtime exited with error: signal: killed")

    def _serve(self, environment: Environment, wanted: str | tuple[str, ...], deadline: float) -> Any:
        """Answer the environment's AWS calls until it sends a message of the ``wanted`` kind."""
        kinds = (wanted,) if isinstance(wanted, str) else wanted
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                detail = f"Task timed out after {environment.spec.timeout:.2f} seconds"
                raise _Ended("Sandbox.Timedout", detail)
            try:
                ready = environment.conn.poll(min(remaining, _POLL_SECONDS))
                message = environment.conn.recv() if ready else None
            except (EOFError, OSError):
                try:  # the socket closes a moment before the process is gone
                    code: int | None = environment.process.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    code = None
                detail = f"signal: {-code}" if code is not None and code < 0 else f"exit status {code}"
                raise _Ended("Runtime.ExitError", f"Runtime exited with error: {detail}") from None
            if message is None:
                self._check_memory(environment, 0)
                continue
            if message[0] == "aws":
                self._relay(environment, message)
            elif message[0] in kinds:
                return message

    def _relay(self, environment: Environment, message: Any) -> None:
        _, call_id, method, url, headers, body, meta = message
        target = next((value for key, value in headers if key.lower() == "x-amz-target"), None)

        def answer() -> None:
            answered = self._answer_call(environment, method, url, headers, body, meta)
            status, answer_headers, answer_body = answered
            interceptor = self.interceptor
            if interceptor is not None and interceptor.after_call(environment.spec.name, meta, status):
                name, service, operation = environment.spec.name, meta.get("service"), meta.get("operation")
                logger.info("%s: crash after %s.%s", name, service, operation)
                environment.alive = False
                environment.process.kill()
                return
            # The environment may have been ended meanwhile (a timeout).
            with contextlib.suppress(OSError):
                environment.send(("aws_result", call_id, status, answer_headers, answer_body))

        if waits_on_other_work(urlsplit(url).path, target):
            threading.Thread(target=answer, name=f"relay-{environment.spec.name}", daemon=True).start()
        else:
            answer()

    def _answer_call(
        self, environment: Environment, method: str, url: str, headers: Headers, body: bytes, meta: Any
    ) -> Answer:
        if self.interceptor is not None:
            meta["transaction_id"] = self.interceptor.transaction_id(meta, url, body)
            injected = self.interceptor.before_call(environment.spec.name, meta)
            if injected is not None:
                return injected
        return self._answer(method, url, headers, body)

    def _report(
        self, spec: FunctionSpec, request_id: str, duration: float, max_mb: int, init_ms: float | None
    ) -> None:
        line = (
            f"REPORT RequestId: {request_id} Function: {spec.name} Duration: {duration:.2f} ms "
            f"Billed Duration: {math.ceil(duration)} ms Memory Size: {spec.memory_mb} MB "
            f"Max Memory Used: {max_mb} MB"
        )
        if init_ms is not None:
            line += f" Init Duration: {init_ms:.2f} ms"
        logger.info(line)


class _InitFailed(Exception):
    def __init__(self, payload: bytes) -> None:
        super().__init__("init failed")
        self.payload = payload
