"""``moto_session()``: one in-process moto world with every local-runtime shim applied."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

from payctl.runtime import (
    _state,
    apigateway_resources,
    dynamodb,
    dynamodb_streams,
    execution_names,
    faults,
    lambda_dispatch,
    layers,
    locking,
    metering,
    powertools,
    retry_waits,
    speedups,
    sqs_event_sources,
    sqs_redrive,
    state_machines,
    sync_execution,
)
from payctl.runtime._patching import Patcher, require_tested_moto
from payctl.runtime.lambda_environments import DEFAULT_ACCOUNT_CONCURRENCY, ExecutionEnvironments
from payctl.runtime.relay_faults import PlanInterceptor

if TYPE_CHECKING:
    from moto.core.config import DefaultConfig

logger = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"
RELAY_SWITCH_INTERVAL = 0.0005

MOTO_CONFIG: DefaultConfig = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}

# Shims in the order they are applied; each module's docstring names the gap it closes.
SHIMS = (
    locking,
    dynamodb,
    layers,
    faults,
    lambda_dispatch,
    state_machines,
    sync_execution,
    sqs_event_sources,
    dynamodb_streams,
    execution_names,
    apigateway_resources,
    powertools,
    metering,
    sqs_redrive,
)
# Needed only where every function shares this process.
_INLINE_ONLY_SHIMS = frozenset({powertools})

_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
}

# Handlers use Powertools Tracer and the X-Ray SDK, which expect a Lambda segment and a daemon.
# Tracing is switched off here, in the runtime only; deployed code and the template are unchanged.
_RUNTIME_ONLY_ENV = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_XRAY_SDK_ENABLED": "false",
    "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
}


def _isolate_environment(scope: _state.EnvironmentScope, region: str) -> None:
    # A profile or a custom endpoint would send "mocked" calls to a real account or a server.
    for name in list(os.environ):
        if name in {"AWS_PROFILE", "AWS_DEFAULT_PROFILE"} or name.startswith("AWS_ENDPOINT_URL"):
            scope.unset(name)
    for name, value in {**_FAKE_CREDENTIALS, **_RUNTIME_ONLY_ENV}.items():
        scope.set(name, value)
    scope.set("AWS_DEFAULT_REGION", region)
    scope.set("AWS_REGION", region)


def set_speedups(enabled: bool) -> None:
    """Switch the interpreter caches on or off inside an active session (for benchmarks)."""
    state = _state.current()
    with state.lock:
        patcher: Patcher | None = state.extras.get("speedups_patcher")
        if enabled and patcher is None:
            patcher = Patcher()
            state.extras["speedups_caches"] = speedups.install(patcher)
            state.extras["speedups_patcher"] = patcher
        elif not enabled and patcher is not None:
            patcher.undo_all()
            state.extras.pop("speedups_patcher")
            state.extras.pop("speedups_caches", None)


def set_retry_wait_scale(factor: float) -> None:
    """Multiply every ASL Retry wait by ``factor`` inside an active session; 1 restores real waits."""
    state = _state.current()
    with state.lock:
        patcher: Patcher | None = state.extras.pop("retry_waits_patcher", None)
        if patcher is not None:
            patcher.undo_all()
        if factor != 1:
            patcher = Patcher()
            retry_waits.install(patcher, factor)
            state.extras["retry_waits_patcher"] = patcher


LambdaMode = Literal["process", "inline"]


@contextmanager
def moto_session(
    *,
    speedups: bool = True,
    region: str = DEFAULT_REGION,
    lambda_mode: LambdaMode = "inline",
    account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY,
) -> Iterator[_state.RuntimeState]:
    """Start in-process moto (executing Step Functions, Lambda without Docker) with every shim.

    ``lambda_mode`` says where handlers run (``lambda_dispatch``): ``"process"`` in execution
    environments like Lambda's, ``"inline"`` in this process. Everything is undone on exit: moto's
    patched internals, the environment variables, the import finder, the environments and moto's
    data. Sessions do not nest.
    """
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID

    require_tested_moto("moto_session")
    scope = _state.EnvironmentScope()
    state = _state.RuntimeState(
        region=region,
        account_id=DEFAULT_ACCOUNT_ID,
        env_scope=scope,
        import_roots=_state.ImportRoots(),
    )
    previous_switch_interval = sys.getswitchinterval()
    if lambda_mode == "process":
        state.environments = _execution_environments(account_concurrency)
    _state.activate(state)
    patcher = Patcher()
    mock = mock_aws(config=MOTO_CONFIG)
    started = False
    try:
        _isolate_environment(scope, region)
        for shim in SHIMS:
            if shim in _INLINE_ONLY_SHIMS and state.environments is not None:
                continue
            shim.install(patcher)
        mock.start()
        started = True
        if speedups:
            set_speedups(True)
        sys.meta_path.append(state.import_roots)
        yield state
    finally:
        _close(state, patcher, previous_switch_interval)
        if started:
            mock.stop()
        scope.restore()
        _state.deactivate()


def _execution_environments(account_concurrency: int) -> ExecutionEnvironments:
    environments = ExecutionEnvironments(
        account_concurrency=account_concurrency,
        base_environment={**_FAKE_CREDENTIALS, **_RUNTIME_ONLY_ENV},
    )
    # The fault plan decides on the calls handlers relay from their environments.
    environments.interceptor = PlanInterceptor()
    # Every relayed call wakes a thread of this process that must win the GIL from the busy
    # workflow threads, several times per call; at the default 5 ms interval a handler's calls
    # queued behind them (a 100-item batch POST took 11 s instead of 1 s while the pollers ran).
    sys.setswitchinterval(RELAY_SWITCH_INTERVAL)
    return environments


def _close(state: _state.RuntimeState, patcher: Patcher, switch_interval: float) -> None:
    """Undo what the session installed, but moto's mock and the environment variables."""
    if state.import_roots in sys.meta_path:
        sys.meta_path.remove(state.import_roots)
    for extra in ("speedups_patcher", "retry_waits_patcher"):
        if state.extras.get(extra) is not None:
            state.extras[extra].undo_all()
    if state.environments is not None:
        state.environments.close()
        sys.setswitchinterval(switch_interval)
    if state.extras.get("speedups_patcher") is not None:
        state.extras["speedups_patcher"].undo_all()
    patcher.undo_all()
