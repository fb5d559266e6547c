"""``LocalStack``: the whole stack in one process, reachable from others.

In-process moto with every runtime shim, the template deployed into it, a moto server on
127.0.0.1 sharing the same backends (so the AWS CLI, boto3 with ``AWS_ENDPOINT_URL`` and later
``payctl`` commands see the same queues, tables and buckets), the API front built from the
template's routes, and the SQS pollers for the stack's event sources.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3

from payctl.local.api_front import ApiFront
from payctl.local.api_http_server import ApiHttpServer
from payctl.local.api_keys import ApiGatewayKeyStore
from payctl.local.moto_server import DEFAULT_MOTO_PORT, LOCALHOST, MotoServer
from payctl.local.openapi_spec import OpenApiSpec
from payctl.local.persistence import (
    PeriodicSaver,
    Snapshot,
    StateDirectory,
    capture,
    keys_keep_their_identity,
    restore,
)
from payctl.local.pollers import PollerGroup, SqsPoller, StreamPollerLoop
from payctl.local.ports import ensure_port_free
from payctl.local.routes import ApiDefinition, api_definitions
from payctl.local.template_parameters import parameter_values
from payctl.runtime import Stack, deploy, moto_session
from payctl.runtime import _state as runtime_state
from payctl.runtime.cfn_yaml import load_template
from payctl.runtime.lambda_environments import DEFAULT_ACCOUNT_CONCURRENCY
from payctl.runtime.session import LambdaMode

logger = logging.getLogger(__name__)

DEFAULT_API_PORT = 3000
DEFAULT_SAVE_INTERVAL = 30.0


@dataclass
class LocalStackConfig:
    template: Path = Path("template.yaml")
    parameters: dict[str, str] = field(default_factory=dict)
    host: str = LOCALHOST
    api_port: int = DEFAULT_API_PORT
    moto_port: int = DEFAULT_MOTO_PORT
    speedups: bool = True
    pollers: bool = True
    serve_moto: bool = True
    failed_visibility_seconds: int | None = None
    lambda_mode: LambdaMode = "process"
    account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY
    # None: ephemeral, nothing outlives the process.
    state_dir: Path | None = None
    save_interval: float = DEFAULT_SAVE_INTERVAL


class LocalStack:
    """Start with ``with LocalStack(...) as local:`` (or ``start()``/``stop()``)."""

    def __init__(
        self,
        template: str | Path = "template.yaml",
        parameters: dict[str, str] | None = None,
        *,
        host: str = LOCALHOST,
        api_port: int = DEFAULT_API_PORT,
        moto_port: int = DEFAULT_MOTO_PORT,
        speedups: bool = True,
        pollers: bool = True,
        serve_moto: bool = True,
        failed_visibility_seconds: int | None = None,
        lambda_mode: LambdaMode = "process",
        account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY,
        state_dir: str | Path | None = None,
        save_interval: float = DEFAULT_SAVE_INTERVAL,
    ) -> None:
        """``failed_visibility_seconds``: see :class:`payctl.local.pollers.SqsPoller` (local only)."""
        self.config = LocalStackConfig(
            template=Path(template),
            parameters={key: str(value) for key, value in (parameters or {}).items()},
            host=host,
            api_port=api_port,
            moto_port=moto_port,
            speedups=speedups,
            pollers=pollers,
            serve_moto=serve_moto,
            failed_visibility_seconds=failed_visibility_seconds,
            lambda_mode=lambda_mode,
            account_concurrency=account_concurrency,
            state_dir=Path(state_dir) if state_dir is not None else None,
            save_interval=save_interval,
        )
        self._exit = ExitStack()
        self._stack: Stack | None = None
        self.api: ApiDefinition | None = None
        self.api_server: ApiHttpServer | None = None
        self.moto_server: MotoServer | None = None
        self.pollers = PollerGroup([])
        self.keys: ApiGatewayKeyStore | None = None
        self.restored: Snapshot | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalStack:
        if self._stack is not None:
            raise RuntimeError("this LocalStack is already running")
        config = self.config
        # Taken ports fail fast, before moto starts and the template deploys.
        ensure_port_free(config.host, config.api_port, "API")
        if config.serve_moto:
            ensure_port_free(config.host, config.moto_port, "moto")
        sam_template = load_template(config.template)
        parameters = parameter_values(sam_template, config.parameters)
        try:
            self._exit.enter_context(
                moto_session(
                    speedups=config.speedups,
                    lambda_mode=config.lambda_mode,
                    account_concurrency=config.account_concurrency,
                )
            )
            self._deploy()
            if config.serve_moto:
                self._start_moto_server()
            self._start_api(sam_template, parameters)
            if config.pollers:
                self._start_pollers()
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def ephemeral(self) -> bool:
        return self.config.state_dir is None

    def _deploy(self) -> None:
        """Deploy the template; with a state directory, restore its data and keep saving it."""
        config = self.config
        if config.state_dir is None:
            self._stack = deploy(config.template, config.parameters)
            return
        state = runtime_state.current()
        directory = StateDirectory(config.state_dir)
        identity = {"account_id": state.account_id, "region": state.region}
        snapshot = directory.load(identity)
        with keys_keep_their_identity(snapshot, state.account_id, state.region):
            self._stack = deploy(config.template, config.parameters)
        if snapshot is not None:
            restore(snapshot, state.account_id, state.region)
            self.restored = snapshot
            logger.info("restored the local stack's state from %s: %s", directory.path, snapshot.summary())

        def save() -> None:
            directory.save(capture(state.account_id, state.region, identity))

        # Registered before the servers and pollers, so it runs after they stopped: the last save
        # sees every batch they finished.
        self._exit.callback(save)
        saver = PeriodicSaver(save, config.save_interval)
        saver.start()
        self._exit.callback(saver.stop)

    def _start_moto_server(self) -> None:
        # Every request would otherwise print a werkzeug access-log line.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.moto_server = MotoServer(self.config.host, self.config.moto_port)
        self.moto_server.start()
        self._exit.callback(self.moto_server.stop)

    def _start_api(self, sam_template: dict[str, Any], parameters: dict[str, str]) -> None:
        stack = self.stack
        definitions = {
            api_id: api for api_id, api in api_definitions(sam_template, parameters).items() if api.routes
        }
        if not definitions:
            return
        if len(definitions) > 1:
            raise NotImplementedError(
                f"one local API port serves one API; the template has {sorted(definitions)}"
            )
        self.api = next(iter(definitions.values()))
        rest_api_id = stack.resources.get(self.api.api_id, self.api.api_id)
        self.keys = ApiGatewayKeyStore(boto3.client("apigateway", region_name=stack.region), rest_api_id)
        front = ApiFront(
            self.api,
            stack.invoke,
            self.keys,
            api_id=rest_api_id,
            openapi=OpenApiSpec(stack, self.api),
        )
        self.api_server = ApiHttpServer(front, self.config.host, self.config.api_port)
        self.api_server.start()
        self._exit.callback(self.api_server.stop)

    def _start_pollers(self) -> None:
        stack = self.stack
        sources = [source for per_function in stack.event_sources.values() for source in per_function]
        visibility = self.config.failed_visibility_seconds
        queues = [SqsPoller(source, stack.region, failed_visibility_seconds=visibility) for source in sources]
        streams = [StreamPollerLoop(poller) for poller in stack.stream_pollers()]
        self.pollers = PollerGroup([*queues, *streams])
        self.pollers.start()
        # A batch already handed to a function runs to its end (at most the function's timeout):
        # stopping moto under it would send its remaining calls to the real AWS endpoints.
        polled = [*stack.event_sources, *stack.stream_sources]
        timeouts = [stack.functions[fid].timeout for fid in polled if fid in stack.functions]
        self._exit.callback(self.pollers.stop, max(timeouts, default=30) + 5)

    def stop(self) -> None:
        """Pollers first (finishing their batches), then the API, the moto server and moto itself."""
        try:
            self._exit.close()
        finally:
            self._exit = ExitStack()
            self._stack = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ what is running

    @property
    def stack(self) -> Stack:
        if self._stack is None:
            raise RuntimeError("the local stack is not running")
        return self._stack

    @property
    def region(self) -> str:
        return self.stack.region

    @property
    def api_url(self) -> str:
        """The stage's base URL, the local counterpart of the ``ApiUrl`` output."""
        if self.api_server is None or self.api is None:
            raise RuntimeError("the stack serves no API")
        return f"http://{self.config.host}:{self.api_server.port}/{self.api.stage_name}"

    @property
    def moto_endpoint(self) -> str | None:
        if self.moto_server is None:
            return None
        return f"http://{self.config.host}:{self.moto_server.port}"

    @property
    def outputs(self) -> dict[str, str]:
        """The stack's outputs, with ``ApiUrl`` pointing at the local API front."""
        outputs = dict(self.stack.outputs)
        if self.api_server is not None and "ApiUrl" in outputs:
            outputs["ApiUrl"] = self.api_url
        return outputs

    @property
    def api_key_id(self) -> str:
        return self.stack.outputs["ApiKeyId"]

    def api_key_value(self, output: str = "ApiKeyId") -> str:
        """A generated key's value (the submitters' key unless ``output`` names another key id output),
        revealed through API Gateway like ``get-api-key --include-value``."""
        client = boto3.client("apigateway", region_name=self.region)
        return str(client.get_api_key(apiKey=self.stack.outputs[output], includeValue=True)["value"])

    def connection_info(self) -> dict[str, Any]:
        """What another process needs to reach this stack (never the key value)."""
        stack = self.stack
        return {
            "stack_name": stack.name,
            "region": self.region,
            "account_id": _account_of(stack),
            "api_url": self.api_url if self.api_server else None,
            "moto_endpoint": self.moto_endpoint,
            "outputs": self.outputs,
            "parameters": self.config.parameters,
            "function_environment": _shared_environment(stack),
        }


def _account_of(stack: Stack) -> str | None:
    for info in stack.functions.values():
        parts = info.arn.split(":")
        if len(parts) > 4:
            return parts[4]
    return None


def _shared_environment(stack: Stack) -> dict[str, str]:
    """Variables every function shares (table names, shard count): what operator tools need."""
    environments = [info.env for info in stack.functions.values()]
    if not environments:
        return {}
    shared = dict(environments[0])
    for env in environments[1:]:
        shared = {key: value for key, value in shared.items() if env.get(key) == value}
    return shared
