"""Shim 5: the template's state machine lands in the executing backend, EXPRESS, substituted."""

from __future__ import annotations

import boto3
import pytest

from payctl.runtime.state_machines import UnresolvedDefinitionSubstitution, substitute_definition


def test_state_machine_is_express_with_substitutions_applied_under_the_output_arn(fixture_stack):
    sfn = boto3.client("stepfunctions", region_name=fixture_stack.region)
    arn = fixture_stack.outputs["StateMachineArn"]

    described = sfn.describe_state_machine(stateMachineArn=arn)

    assert described["type"] == "EXPRESS"
    assert fixture_stack.functions["EchoFunction"].arn in described["definition"]
    assert "${" not in described["definition"]
    assert described["loggingConfiguration"]["level"] == "ALL"
    assert fixture_stack.state_machines == {"FixtureStateMachine": arn}


def test_executions_run_the_asl(fixture_stack):
    response = fixture_stack.start_sync_execution({"name": "asl"}, name="asl")

    assert response["status"] == "SUCCEEDED", response.get("cause")
    assert '"execution":"asl"' in response["output"]


def test_a_placeholder_without_a_substitution_fails_loudly():
    with pytest.raises(UnresolvedDefinitionSubstitution, match="MissingArn"):
        substitute_definition('{"A": "${KnownArn}", "B": "${MissingArn}"}', {"KnownArn": "arn:x"}, "Machine")


def test_substitution_values_are_rendered_like_cloudformation():
    assert (
        substitute_definition('{"On": ${Flag}, "N": ${Count}}', {"Flag": True, "Count": 3})
        == '{"On": true, "N": 3}'
    )
