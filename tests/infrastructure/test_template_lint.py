"""cfn-lint and the SAM transform accept the stack as it would be deployed."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint, lint_file


def _describe(matches: list[Any]) -> list[str]:
    return [f"{m.rule.id} {m.message} ({m.linenumber}:{m.columnnumber})" for m in matches]


def test_cfn_lint_reports_no_errors_or_warnings_on_the_template(template_path: Path) -> None:
    """Given template.yaml, when cfn-lint runs with its default rules, then it reports nothing at all."""
    matches = lint_file(template_path)

    assert _describe(matches) == []


@pytest.fixture(scope="module")
def lintable_stack(translated: dict[str, Any], asl: dict[str, Any]) -> dict[str, Any]:
    """The translated stack with the ASL as a Definition object.

    SAM emits DefinitionString as an Fn::Join of lines, which cfn-lint skips; as an object, rule E3601
    validates every state against the ASL schema.
    """
    stack = copy.deepcopy(translated)
    props = stack["Resources"]["PaymentsStateMachine"]["Properties"]
    props.pop("DefinitionString")
    props["Definition"] = copy.deepcopy(asl)
    return stack


def test_translated_stack_and_state_machine_definition_have_no_lint_errors(
    lintable_stack: dict[str, Any],
) -> None:
    """Given the SAM-translated stack with the ASL inlined, when cfn-lint runs, then no rule errors.

    cfn-lint validates SAM templates without running the transform, so it never opens DefinitionUri; the
    translated stack is where the state machine definition and the generated API resources get checked.
    SAM's generated boilerplate trips a few warnings (redundant DependsOn, parameters it inlines), so only
    errors are asserted here; template.yaml itself is held to zero warnings above.
    """
    matches = lint(json.dumps(lintable_stack))

    errors = [m for m in matches if m.rule.id.startswith("E")]
    assert _describe(errors) == []


def test_cfn_lint_catches_a_broken_state_machine_definition(lintable_stack: dict[str, Any]) -> None:
    """Given a stack whose ASL has a state with an unknown Type, cfn-lint reports E3601.

    Guards the test above against passing vacuously because the definition was never inspected.
    """
    broken = copy.deepcopy(lintable_stack)
    definition = broken["Resources"]["PaymentsStateMachine"]["Properties"]["Definition"]
    definition["States"]["Decide"]["Type"] = "Choose"

    matches = lint(json.dumps(broken))

    assert any(m.rule.id == "E3601" for m in matches)


def test_sam_transform_generates_the_usage_plan_and_api_key(translated: dict[str, Any]) -> None:
    """Given CreateUsagePlan PER_API, the transform creates PaymentsApiApiKey bound to the plan and stage."""
    resources = translated["Resources"]

    assert resources["PaymentsApiApiKey"]["Type"] == "AWS::ApiGateway::ApiKey"
    assert resources["PaymentsApiUsagePlan"]["Type"] == "AWS::ApiGateway::UsagePlan"
    assert resources["PaymentsApiUsagePlanKey"]["Properties"]["KeyId"] == {"Ref": "PaymentsApiApiKey"}
    assert resources["PaymentsApiv1Stage"]["Properties"]["StageName"] == "v1"
