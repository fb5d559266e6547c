"""Shim 6: StartSyncExecution works through boto3, in-process, for EXPRESS machines."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def sfn(moto_env):
    return boto3.client("stepfunctions", region_name=moto_env.region)


def test_boto3_start_sync_execution_returns_the_finished_execution(fixture_stack, sfn):
    response = sfn.start_sync_execution(
        stateMachineArn=fixture_stack.outputs["StateMachineArn"],
        name="boto3-sync",
        input=json.dumps({"name": "sy"}),
    )

    assert response["status"] == "SUCCEEDED"
    assert ":express:" in response["executionArn"]
    assert response["name"] == "boto3-sync"
    assert response["stopDate"] >= response["startDate"]
    assert json.loads(response["output"])["summary"]["greeting"] == "hello, sy"
    assert response["billingDetails"]["billedDurationInMilliseconds"] >= 100


def test_express_execution_names_may_repeat(fixture_stack):
    first = fixture_stack.start_sync_execution({"name": "a"}, name="same-name")
    second = fixture_stack.start_sync_execution({"name": "b"}, name="same-name")

    assert first["status"] == second["status"] == "SUCCEEDED"
    assert first["executionArn"] != second["executionArn"]


def test_a_failed_execution_reports_error_and_cause(fixture_stack):
    response = fixture_stack.start_sync_execution({"raise": "unexpected"}, name="uncaught")

    assert response["status"] == "FAILED"
    assert response["error"] == "RuntimeError"
    assert json.loads(response["cause"])["errorMessage"] == "unexpected failure"
    assert "output" not in response


def test_sync_execution_of_a_standard_machine_is_rejected(fixture_stack, sfn):
    definition = sfn.describe_state_machine(stateMachineArn=fixture_stack.outputs["StateMachineArn"])
    standard = sfn.create_state_machine(
        name="standard-machine", definition=definition["definition"], roleArn=definition["roleArn"]
    )

    with pytest.raises(ClientError) as raised:
        sfn.start_sync_execution(stateMachineArn=standard["stateMachineArn"], name="x", input="{}")

    assert raised.value.response["Error"]["Code"] == "StateMachineTypeNotSupported"


def test_invalid_input_is_rejected(fixture_stack, sfn):
    with pytest.raises(ClientError) as raised:
        sfn.start_sync_execution(
            stateMachineArn=fixture_stack.outputs["StateMachineArn"], name="x", input="{nope"
        )

    assert raised.value.response["Error"]["Code"] == "InvalidExecutionInput"
