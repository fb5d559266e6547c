"""Template fixtures: the SAM template as written, as SAM translates it, and a small intrinsic resolver.

cfn-lint's own YAML decoder is used so that short tags (!Ref, !Sub, !GetAtt, ...) load as their long form
exactly the way the linter sees them.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.decode import cfn_yaml
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
ASL_PATH = ROOT / "statemachine" / "payment_workflow.asl.json"
SAMCONFIG_PATH = ROOT / "samconfig.toml"
EVENTS_DIR = ROOT / "events"

REGION = "us-east-1"
PSEUDO_PARAMETERS: dict[str, Any] = {
    "AWS::AccountId": "123456789012",
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "payments-test",
    "AWS::NoValue": None,
}

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


def load_template(path: Path) -> dict[str, Any]:
    """Load a CloudFormation YAML/JSON file as plain dicts, lists and strings (short tags expanded)."""
    return json.loads(json.dumps(cfn_yaml.load(str(path))))


def sam_translate(template: dict[str, Any]) -> dict[str, Any]:
    """Run the SAM transform offline, the way CloudFormation would at deploy time.

    Local CodeUri/ContentUri become S3 locations and DefinitionUri is inlined, which is what `sam package`
    does before the transform runs. Managed policy names are not used in the template, so the IAM lookup
    the translator would otherwise make is replaced by an empty map.
    """
    fragment = copy.deepcopy(template)
    for logical_id, resource in fragment["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            props["CodeUri"] = f"s3://artifacts/{logical_id}.zip"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = f"s3://artifacts/{logical_id}.zip"
        elif resource["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            props["Definition"] = json.loads((ROOT / props.pop("DefinitionUri")).read_text())
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    return translator.translate(fragment, parameter_values={}, get_managed_policy_map=dict)


class Resolver:
    """Evaluates the intrinsic functions this template uses against concrete parameter values.

    Resource references resolve to readable placeholders (``<ArchiveBucket>``, ``<ArchiveBucket.Arn>``), so
    two stacks can be compared by the names they would create.
    """

    def __init__(self, template: dict[str, Any], overrides: dict[str, Any] | None = None) -> None:
        self.template = template
        self.parameters: dict[str, Any] = {
            name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()
        }
        self.parameters.update(overrides or {})
        missing = [name for name, value in self.parameters.items() if value is None]
        if missing:
            raise ValueError(f"parameters without a value: {missing}")

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            [(key, arg)] = node.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                resource, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return f"<{resource}.{attribute}>"
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                delimiter, items = arg
                return delimiter.join(str(self.resolve(item)) for item in items)
            if key == "Fn::If":
                name, if_true, if_false = arg
                return self.resolve(if_true if self.condition(name) else if_false)
            if key == "Fn::Equals":
                left, right = (str(self.resolve(value)) for value in arg)
                return left == right
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Condition":
                return self.condition(arg)
        return {key: self.resolve(value) for key, value in node.items()}

    def _ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name in self.template["Resources"]:
            return f"<{name}>"
        raise KeyError(f"unresolvable Ref {name}")

    def _sub(self, arg: str | list[Any]) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        local = {name: self.resolve(value) for name, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in local:
                return str(local[name])
            if "." in name and name.split(".", 1)[0] in self.template["Resources"]:
                return f"<{name}>"
            return str(self._ref(name))

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")


@pytest.fixture(scope="session")
def template_path() -> Path:
    return TEMPLATE_PATH


@pytest.fixture(scope="session")
def samconfig_path() -> Path:
    return SAMCONFIG_PATH


@pytest.fixture(scope="session")
def events_dir() -> Path:
    return EVENTS_DIR


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


@pytest.fixture(scope="session")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


@pytest.fixture(scope="session")
def translated(template: dict[str, Any]) -> dict[str, Any]:
    return sam_translate(template)


@pytest.fixture(scope="session")
def asl() -> dict[str, Any]:
    return json.loads(ASL_PATH.read_text())


@pytest.fixture(scope="session")
def resolver(template: dict[str, Any]) -> Resolver:
    """Resolver over the parameter defaults."""
    return Resolver(template)


@pytest.fixture(scope="session")
def make_resolver(template: dict[str, Any]) -> Callable[..., Resolver]:
    """Factory: ``make_resolver(EnvironmentSuffix="b")`` resolves as a stack with those parameters."""

    def factory(**overrides: Any) -> Resolver:
        return Resolver(template, overrides)

    return factory


def iter_policy_statements(translated: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM statement the deployed stack carries: role inline policies and resource policies."""
    for logical_id, resource in translated["Resources"].items():
        props = resource.get("Properties", {})
        documents = [policy["PolicyDocument"] for policy in props.get("Policies", [])]
        for key in ("PolicyDocument", "AssumeRolePolicyDocument"):
            if key in props:
                documents.append(props[key])
        if "ResourcePolicy" in props:
            documents.append(props["ResourcePolicy"]["PolicyDocument"])
        for document in documents:
            statements = document["Statement"]
            for statement in statements if isinstance(statements, list) else [statements]:
                yield logical_id, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="session")
def policy_statements(translated: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return list(iter_policy_statements(translated))


@pytest.fixture(scope="session")
def role_statements(translated: dict[str, Any]) -> Callable[[str], list[dict[str, Any]]]:
    """Allow statements of the execution role SAM generates for a function or state machine."""

    def statements_for(logical_id: str) -> list[dict[str, Any]]:
        role = translated["Resources"][f"{logical_id}Role"]
        return [
            statement
            for policy in role["Properties"].get("Policies", [])
            for statement in as_list(policy["PolicyDocument"]["Statement"])
            if statement["Effect"] == "Allow"
        ]

    return statements_for
