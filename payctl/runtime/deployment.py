"""``deploy()``: the repository's SAM template, deployed into the active moto session, as a
:class:`~payctl.runtime.deployed_stack.Stack`."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import boto3

from payctl.runtime import _state
from payctl.runtime.cfn_yaml import load_template
from payctl.runtime.deployed_stack import FunctionInfo, Stack
from payctl.runtime.dynamodb_streams import StreamSource, stream_sources_for_function
from payctl.runtime.lambda_dispatch import cold_start
from payctl.runtime.sam_translate import ArtifactStager, stage_local_artifacts, translate
from payctl.runtime.sqs_event_sources import EventSource, event_sources_for_function

logger = logging.getLogger(__name__)

DEFAULT_STACK_NAME = "payments-local"
_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


class DeployFailed(RuntimeError):
    """CloudFormation (moto) did not reach CREATE_COMPLETE."""


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
    described = _create_and_describe(cloudformation, stack_name, translated, parameters)
    resources, resource_types = _resources(cloudformation, stack_name, sam_template, translated)
    unsupported = _unsupported_resources(translated, resource_types)
    lambda_client = boto3.client("lambda", region_name=state.region)
    functions = _functions(state, lambda_client, resources, resource_types)
    return Stack(
        name=stack_name,
        region=state.region,
        outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        resources=resources,
        resource_types=resource_types,
        functions=functions,
        event_sources=_event_sources(state, lambda_client, functions),
        state_machines=_state_machines(state, resources, resource_types),
        template=translated,
        unsupported_resources=unsupported,
        stream_sources=_stream_sources(state, lambda_client, functions),
    )


def _create_and_describe(
    cloudformation: Any, stack_name: str, translated: dict[str, Any], parameters: dict[str, str]
) -> dict[str, Any]:
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(translated),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
        Capabilities=_CAPABILITIES,
    )
    described: dict[str, Any] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if described["StackStatus"] != "CREATE_COMPLETE":
        events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
        reasons = [e.get("ResourceStatusReason") for e in events if e.get("ResourceStatusReason")]
        raise DeployFailed(f"stack {stack_name} is {described['StackStatus']}: {reasons}")
    return described


def _resources(
    cloudformation: Any, stack_name: str, sam_template: dict[str, Any], translated: dict[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """Physical ids and types by logical id, the SAM template's layer ids included."""
    summaries = _list_resources(cloudformation, stack_name)
    resources = {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries}
    resource_types = {s["LogicalResourceId"]: s["ResourceType"] for s in summaries}
    for sam_id, translated_id in _sam_layer_aliases(sam_template, translated).items():
        if translated_id in resources:
            resources[sam_id] = resources[translated_id]
            resource_types[sam_id] = resource_types[translated_id]
    return resources, resource_types


def _unsupported_resources(translated: dict[str, Any], resource_types: dict[str, str]) -> dict[str, str]:
    unsupported = {
        logical_id: resource["Type"]
        for logical_id, resource in translated.get("Resources", {}).items()
        if logical_id not in resource_types and "Condition" not in resource
    }
    if unsupported:
        logger.info(
            "moto has no CloudFormation support for, and created nothing for: %s", sorted(unsupported)
        )
    return unsupported


def _functions(
    state: _state.RuntimeState, lambda_client: Any, resources: dict[str, str], resource_types: dict[str, str]
) -> dict[str, FunctionInfo]:
    functions: dict[str, FunctionInfo] = {}
    for logical_id, kind in resource_types.items():
        if kind == "AWS::Lambda::Function":
            config = lambda_client.get_function_configuration(FunctionName=resources[logical_id])
            functions[logical_id] = _function_info(state, logical_id, config)
    if state.environments is None:
        assert state.function_envs is not None
        state.function_envs.check_all({info.name: info.env for info in functions.values()})
    return functions


def _function_info(state: _state.RuntimeState, logical_id: str, config: dict[str, Any]) -> FunctionInfo:
    local = state.functions.get(config["FunctionName"])
    return FunctionInfo(
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
        env=dict(config.get("Environment", {}).get("Variables", {})),
        timeout=int(config["Timeout"]),
        memory_size=int(config["MemorySize"]),
    )


def _event_sources(
    state: _state.RuntimeState, lambda_client: Any, functions: dict[str, FunctionInfo]
) -> dict[str, tuple[EventSource, ...]]:
    sqs = boto3.client("sqs", region_name=state.region)
    event_sources = {
        logical_id: tuple(
            event_sources_for_function(
                info.name, logical_id, state.region, lambda_client=lambda_client, sqs=sqs
            )
        )
        for logical_id, info in functions.items()
    }
    return {logical_id: sources for logical_id, sources in event_sources.items() if sources}


def _stream_sources(
    state: _state.RuntimeState, lambda_client: Any, functions: dict[str, FunctionInfo]
) -> dict[str, tuple[StreamSource, ...]]:
    stream_sources = {
        logical_id: tuple(
            stream_sources_for_function(info.name, logical_id, state.region, lambda_client=lambda_client)
        )
        for logical_id, info in functions.items()
    }
    return {logical_id: sources for logical_id, sources in stream_sources.items() if sources}


def _state_machines(
    state: _state.RuntimeState, resources: dict[str, str], resource_types: dict[str, str]
) -> dict[str, str]:
    stepfunctions = boto3.client("stepfunctions", region_name=state.region)
    state_machines = {}
    for logical_id, kind in resource_types.items():
        if kind == "AWS::StepFunctions::StateMachine":
            # Raises if the machine did not land in the executing backend.
            stepfunctions.describe_state_machine(stateMachineArn=resources[logical_id])
            state_machines[logical_id] = resources[logical_id]
    return state_machines
