"""``deploy()``: the repository's SAM template, deployed into the active moto session."""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3

from payctl.runtime import _state, faults
from payctl.runtime.cfn_yaml import load_template
from payctl.runtime.dynamodb_streams import StreamPoller, StreamSource, stream_sources_for_function
from payctl.runtime.execution_names import require_name
from payctl.runtime.lambda_dispatch import cold_start
from payctl.runtime.sam_translate import ArtifactStager, stage_local_artifacts, translate
from payctl.runtime.sqs_event_sources import (
    NO_RETRIES,
    EventSource,
    EventSourcePoller,
    PollResult,
    event_sources_for_function,
)

logger = logging.getLogger(__name__)

DEFAULT_STACK_NAME = "payments-local"
_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


class DeployFailed(RuntimeError):
    """CloudFormation (moto) did not reach CREATE_COMPLETE."""


class LambdaFunctionError(Exception):
    """The handler raised: Lambda answered with ``FunctionError`` and an error payload."""

    def __init__(self, function_name: str, function_error: str, payload: dict[str, Any]) -> None:
        self.function_name = function_name
        self.function_error = function_error
        self.payload = payload
        self.error_type: str = payload.get("errorType", "Unknown")
        self.error_message: str = payload.get("errorMessage", "")
        self.stack_trace: list[str] = payload.get("stackTrace", [])
        super().__init__(f"{function_name}: {self.error_type}: {self.error_message}")


@dataclass(frozen=True)
class FunctionInfo:
    logical_id: str
    name: str
    arn: str
    handler: str
    code_dir: Path | None
    layer_dirs: tuple[Path, ...]
    env: dict[str, str]
    timeout: int
    memory_size: int


class StackFaults:
    """The active fault plan (shim 4), addressed by the stack's logical function ids.

    ``stack.faults.inject("ValidationFunction", "Lambda.ServiceException", times=2)`` is the short
    form for Lambda service errors; :meth:`add` takes any :class:`faults.Rule`.
    """

    def __init__(self, stack: Stack) -> None:
        self._stack = stack

    @property
    def plan(self) -> faults.FaultPlan:
        return faults.plan()

    def inject(self, function: str, error: str = "Lambda.ServiceException", times: int = 1) -> None:
        self.add(faults.Rule(faults.Kind.LAMBDA_SERVICE_ERROR, error, function=function, count=times))

    def add(self, rule: faults.Rule) -> faults.Rule:
        if rule.function is not None:
            rule.function = self._stack.function_name(rule.function)
        return faults.plan().add(rule)

    def remaining(self, function: str) -> int:
        return faults.plan().remaining(self._stack.function_name(function))

    def clear(self, function: str | None = None) -> None:
        if function is None:
            for info in self._stack.functions.values():
                faults.plan().clear(info.name)
        else:
            faults.plan().clear(self._stack.function_name(function))


@dataclass
class Stack:
    name: str
    region: str
    outputs: dict[str, str]
    resources: dict[str, str]
    resource_types: dict[str, str]
    functions: dict[str, FunctionInfo]
    event_sources: dict[str, tuple[EventSource, ...]]
    state_machines: dict[str, str]
    template: dict[str, Any]
    unsupported_resources: dict[str, str] = field(default_factory=dict)
    stream_sources: dict[str, tuple[StreamSource, ...]] = field(default_factory=dict)
    _stream_pollers: dict[str, StreamPoller] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.faults = StackFaults(self)
        # The earlier name, kept for callers written against it.
        self.lambda_faults = self.faults
        self._lambda = boto3.client("lambda", region_name=self.region, config=NO_RETRIES)
        self._sfn = boto3.client("stepfunctions", region_name=self.region, config=NO_RETRIES)

    @cached_property
    def _sqs(self) -> Any:
        return boto3.client("sqs", region_name=self.region)

    def function_name(self, logical_id_or_name: str) -> str:
        info = self.functions.get(logical_id_or_name)
        if info is not None:
            return info.name
        if any(info.name == logical_id_or_name for info in self.functions.values()):
            return logical_id_or_name
        raise KeyError(f"{logical_id_or_name!r} is not a function of stack {self.name}")

    def invoke(self, logical_id_or_name: str, event: Any) -> Any:
        """Invoke through the Lambda API; raises :class:`LambdaFunctionError` if the handler raised."""
        name = self.function_name(logical_id_or_name)
        response = self._lambda.invoke(
            FunctionName=name, InvocationType="RequestResponse", Payload=json.dumps(event).encode("utf-8")
        )
        raw = response["Payload"].read()
        payload = json.loads(raw) if raw else None
        if response.get("FunctionError"):
            raise LambdaFunctionError(name, response["FunctionError"], payload or {})
        return payload

    def state_machine_arn(self, logical_id: str | None = None) -> str:
        if logical_id is not None:
            return self.state_machines[logical_id]
        if len(self.state_machines) != 1:
            raise ValueError(f"stack has state machines {sorted(self.state_machines)}; name one")
        return next(iter(self.state_machines.values()))

    def start_sync_execution(self, input: Any, name: str, state_machine: str | None = None) -> dict[str, Any]:
        """``StartSyncExecution`` through the Step Functions API (same response as boto3)."""
        require_name(name, "StartSyncExecution")
        return self._sfn.start_sync_execution(
            stateMachineArn=self.state_machine_arn(state_machine), name=name, input=json.dumps(input)
        )

    def pollers(
        self, function_logical_id: str, *, visibility_timeout_on_failure: int | None = None
    ) -> list[EventSourcePoller]:
        sources = self.event_sources.get(function_logical_id)
        if not sources:
            raise KeyError(f"{function_logical_id!r} has no SQS event source in stack {self.name}")
        return [
            EventSourcePoller(
                source,
                self.region,
                visibility_timeout_on_failure=visibility_timeout_on_failure,
                sqs=self._sqs,
                lambda_client=self._lambda,
            )
            for source in sources
        ]

    def stream_pollers(self) -> list[StreamPoller]:
        """One poller per DynamoDB stream event source; each keeps its shards' positions."""
        pollers = self._stream_pollers
        for sources in self.stream_sources.values():
            for source in sources:
                if source.uuid not in pollers:
                    pollers[source.uuid] = StreamPoller(source, self.region, lambda_client=self._lambda)
        return list(pollers.values())

    def poll_once(
        self,
        function_logical_id: str,
        *,
        max_wait_seconds: float = 0.0,
        visibility_timeout_on_failure: int | None = None,
    ) -> PollResult:
        """One receive → invoke → delete cycle for the function's (single) SQS event source."""
        pollers = self.pollers(
            function_logical_id, visibility_timeout_on_failure=visibility_timeout_on_failure
        )
        if len(pollers) != 1:
            raise ValueError(f"{function_logical_id} has {len(pollers)} SQS event sources; use pollers()")
        return pollers[0].poll_once(max_wait_seconds=max_wait_seconds)


def _list_resources(cloudformation: Any, stack_name: str) -> list[dict[str, Any]]:
    summaries: list[dict[str, Any]] = []
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        summaries.extend(page["StackResourceSummaries"])
    return summaries


def _sam_layer_aliases(sam_template: dict[str, Any], translated: dict[str, Any]) -> dict[str, str]:
    """SAM renames a LayerVersion to ``<LogicalId><hash>``; map the template's id to the new one."""
    aliases = {}
    translated_ids = translated.get("Resources", {})
    for logical_id, resource in sam_template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::LayerVersion":
            continue
        matches = [
            rid
            for rid, res in translated_ids.items()
            if rid.startswith(logical_id) and res.get("Type") == "AWS::Lambda::LayerVersion"
        ]
        if len(matches) == 1:
            aliases[logical_id] = matches[0]
    return aliases


def deploy(
    template_path: str | Path = "template.yaml",
    parameters: dict[str, Any] | None = None,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
) -> Stack:
    """Translate and create the template's stack on moto, then check what moto could not do."""
    state = _state.current()
    path = Path(template_path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"template {template_path} does not exist")
    sam_template = load_template(path)
    stager = ArtifactStager(f"payctl-local-artifacts-{state.account_id}-{state.region}", state.region)
    staged = stage_local_artifacts(sam_template, path.parent, stager)
    with state.lock:
        for key, artifact in staged.artifacts.items():
            state.artifacts[key] = artifact.local_dir
    parameters = {key: str(value) for key, value in (parameters or {}).items()}
    translated = translate(staged.template, parameters, state.region)
    if state.environments is None:
        # Execution environments import afresh anyway; inline handlers must forget the last deploy.
        cold_start({artifact.local_dir for artifact in staged.artifacts.values()})

    _quiet_unsupported_resource_logs()
    with warnings.catch_warnings():
        # moto warns for each resource it cannot create, whenever its lazy resource map is read;
        # they are reported once, in Stack.unsupported_resources.
        warnings.filterwarnings("ignore", message="Tried to parse .* not supported by moto")
        return _create_stack(state, stack_name, sam_template, translated, parameters)


class _UnsupportedResourceFilter(logging.Filter):
    """moto also logs a warning per unsupported resource each time it reads the template again."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("No Moto CloudFormation support for")


def _quiet_unsupported_resource_logs() -> None:
    moto_logger = logging.getLogger("moto")
    if not any(isinstance(f, _UnsupportedResourceFilter) for f in moto_logger.filters):
        moto_logger.addFilter(_UnsupportedResourceFilter())


def _create_stack(
    state: _state.RuntimeState,
    stack_name: str,
    sam_template: dict[str, Any],
    translated: dict[str, Any],
    parameters: dict[str, str],
) -> Stack:
    cloudformation = boto3.client("cloudformation", region_name=state.region)
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(translated),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
        Capabilities=_CAPABILITIES,
    )
    described = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if described["StackStatus"] != "CREATE_COMPLETE":
        events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
        reasons = [e.get("ResourceStatusReason") for e in events if e.get("ResourceStatusReason")]
        raise DeployFailed(f"stack {stack_name} is {described['StackStatus']}: {reasons}")

    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    summaries = _list_resources(cloudformation, stack_name)
    resources = {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries}
    resource_types = {s["LogicalResourceId"]: s["ResourceType"] for s in summaries}
    for sam_id, translated_id in _sam_layer_aliases(sam_template, translated).items():
        if translated_id in resources:
            resources[sam_id] = resources[translated_id]
            resource_types[sam_id] = resource_types[translated_id]
    unsupported = {
        logical_id: resource["Type"]
        for logical_id, resource in translated.get("Resources", {}).items()
        if logical_id not in resource_types and "Condition" not in resource
    }
    if unsupported:
        logger.info(
            "moto has no CloudFormation support for, and created nothing for: %s", sorted(unsupported)
        )

    lambda_client = boto3.client("lambda", region_name=state.region)
    functions: dict[str, FunctionInfo] = {}
    environments: dict[str, dict[str, str]] = {}
    for logical_id, kind in resource_types.items():
        if kind != "AWS::Lambda::Function":
            continue
        config = lambda_client.get_function_configuration(FunctionName=resources[logical_id])
        local = state.functions.get(config["FunctionName"])
        env = dict(config.get("Environment", {}).get("Variables", {}))
        environments[config["FunctionName"]] = env
        functions[logical_id] = FunctionInfo(
            logical_id=logical_id,
            name=config["FunctionName"],
            arn=config["FunctionArn"],
            handler=config["Handler"],
            code_dir=local.code_dir if local else None,
            layer_dirs=tuple(
                state.layer_dirs[layer["Arn"]]
                for layer in config.get("Layers", [])
                if layer["Arn"] in state.layer_dirs
            ),
            env=env,
            timeout=int(config["Timeout"]),
            memory_size=int(config["MemorySize"]),
        )
    if state.environments is None:
        assert state.function_envs is not None
        state.function_envs.check_all(environments)

    sqs = boto3.client("sqs", region_name=state.region)
    event_sources = {
        logical_id: tuple(
            event_sources_for_function(
                info.name, logical_id, state.region, lambda_client=lambda_client, sqs=sqs
            )
        )
        for logical_id, info in functions.items()
    }
    event_sources = {logical_id: sources for logical_id, sources in event_sources.items() if sources}
    stream_sources = {
        logical_id: tuple(
            stream_sources_for_function(info.name, logical_id, state.region, lambda_client=lambda_client)
        )
        for logical_id, info in functions.items()
    }
    stream_sources = {logical_id: sources for logical_id, sources in stream_sources.items() if sources}

    stepfunctions = boto3.client("stepfunctions", region_name=state.region)
    state_machines = {}
    for logical_id, kind in resource_types.items():
        if kind == "AWS::StepFunctions::StateMachine":
            # Raises if the machine did not land in the executing backend.
            stepfunctions.describe_state_machine(stateMachineArn=resources[logical_id])
            state_machines[logical_id] = resources[logical_id]

    return Stack(
        name=stack_name,
        region=state.region,
        outputs=outputs,
        resources=resources,
        resource_types=resource_types,
        functions=functions,
        event_sources=event_sources,
        state_machines=state_machines,
        template=translated,
        unsupported_resources=unsupported,
        stream_sources=stream_sources,
    )
