"""Shim 5 — state machines from CloudFormation land in the executing backend, as the template says.

Gap (moto 5.2.5): ``AWS::StepFunctions::StateMachine`` ignores ``DefinitionSubstitutions``,
``StateMachineType`` (every machine is STANDARD), ``Definition``/``DefinitionS3Location``, logging and
tracing, and is created in moto's non-executing Step Functions backend, so executions never run the
ASL. This shim creates the machine in the parser (executing) backend under the same ARN the stack
outputs, with the substituted definition and the template's type. A placeholder left unsubstituted
fails the deploy instead of reaching the interpreter as a literal ``${...}``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from payctl.runtime._patching import Patcher

GAP = "moto CloudFormation StateMachine ignores DefinitionSubstitutions and type"

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")


class UnresolvedDefinitionSubstitution(ValueError):
    """The definition still names a ``${Placeholder}`` after DefinitionSubstitutions were applied."""


def _substitution_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def substitute_definition(definition: str, substitutions: dict[str, Any] | None, logical_id: str = "") -> str:
    for key, value in (substitutions or {}).items():
        definition = definition.replace("${" + key + "}", _substitution_text(value))
    leftover = sorted(set(_PLACEHOLDER.findall(definition)))
    if leftover:
        raise UnresolvedDefinitionSubstitution(
            f"state machine {logical_id or '?'} still contains placeholders {leftover} after "
            f"DefinitionSubstitutions {sorted((substitutions or {}).keys())}; a substitution is "
            "missing or refers to a resource moto did not create"
        )
    return definition


def _camel(value: Any) -> Any:
    """CloudFormation spells the logging/tracing structures in PascalCase, the API in camelCase."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: _camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel(item) for item in value]
    return value


def _definition_text(properties: dict[str, Any], account_id: str, region_name: str) -> str:
    if "DefinitionString" in properties:
        return str(properties["DefinitionString"])
    if "Definition" in properties:
        return json.dumps(properties["Definition"])
    location = properties.get("DefinitionS3Location")
    if location:
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        backend = s3_backends[account_id][get_partition(region_name)]
        key = backend.get_object(location["Bucket"], location["Key"], location.get("Version"))
        if key is None:
            raise FileNotFoundError(f"definition s3://{location['Bucket']}/{location['Key']} not found")
        return key.value.decode("utf-8")
    raise ValueError("state machine has no DefinitionString, Definition or DefinitionS3Location")


def _parser_backend(account_id: str, region_name: str) -> Any:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    return stepfunctions_parser_backends[account_id][region_name]


def _create(
    cls: Any,
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    from moto.stepfunctions.parser.api import StateMachineType
    from moto.stepfunctions.utils import cfn_to_api_tags

    properties = cloudformation_json["Properties"]
    logical_id = kwargs.get("LogicalId", resource_name)
    name = properties.get("StateMachineName", resource_name)
    definition = substitute_definition(
        _definition_text(properties, account_id, region_name),
        properties.get("DefinitionSubstitutions"),
        logical_id,
    )
    machine_type = properties.get("StateMachineType", "STANDARD")
    machine = _parser_backend(account_id, region_name).create_state_machine(
        name=name,
        definition=definition,
        roleArn=properties.get("RoleArn", ""),
        tags=cfn_to_api_tags(properties.get("Tags", [])),
        loggingConfiguration=_camel(properties.get("LoggingConfiguration")),
        tracingConfiguration=_camel(properties.get("TracingConfiguration")),
        sm_type=machine_type,
    )
    # moto keeps the requested type in ``type`` but hard-codes ``sm_type`` (what executions read).
    machine.type = machine_type
    machine.sm_type = StateMachineType(machine_type)
    return machine


def _delete(
    cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
) -> None:
    _parser_backend(account_id, region_name).delete_state_machine(resource_name)


def _update(
    cls: Any,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    properties = cloudformation_json.get("Properties", {})
    if properties.get("StateMachineName", original_resource.name) != original_resource.name:
        raise NotImplementedError("renaming a state machine (a replacement) is not supported locally")
    definition = substitute_definition(
        _definition_text(properties, account_id, region_name),
        properties.get("DefinitionSubstitutions"),
        original_resource.name,
    )
    return _parser_backend(account_id, region_name).update_state_machine(
        original_resource.arn, definition=definition, role_arn=properties.get("RoleArn")
    )


def install(patcher: Patcher) -> None:
    from moto.stepfunctions.models import StateMachine

    patcher.setattr(StateMachine, "create_from_cloudformation_json", classmethod(_create), gap=GAP)
    patcher.setattr(StateMachine, "delete_from_cloudformation_json", classmethod(_delete), gap=GAP)
    patcher.setattr(StateMachine, "update_from_cloudformation_json", classmethod(_update), gap=GAP)
