"""Shim 3: Invoke runs the real handler, with Lambda's context, errors and environment."""

from __future__ import annotations

import io
import json
import os
import zipfile
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from payctl.runtime import EnvironmentConflict, LambdaFunctionError, LocalCodeUnavailable, deploy
from payctl.runtime.lambda_payloads import dumps_like_lambda

FIXTURE_TEMPLATE = Path(__file__).resolve().parent / "fixtures" / "template.yaml"


@pytest.fixture
def lambda_client(moto_env):
    return boto3.client("lambda", region_name=moto_env.region)


def test_invoke_runs_the_handler_with_a_lambda_context(fixture_stack, lambda_client):
    echo = fixture_stack.functions["EchoFunction"]

    response = lambda_client.invoke(FunctionName=echo.name, Payload=json.dumps({"name": "grace"}))

    assert "FunctionError" not in response
    result = json.loads(response["Payload"].read())
    assert result["event"] == {"name": "grace"}
    assert result["function_name"] == echo.name
    assert result["memory_limit_in_mb"] == "256"
    assert result["remaining_ms_positive"] is True


def test_handler_exception_is_an_unhandled_function_error_with_lambdas_payload(fixture_stack, lambda_client):
    response = lambda_client.invoke(
        FunctionName=fixture_stack.functions["EchoFunction"].name,
        Payload=json.dumps({"raise": "FixtureDeclined", "id": 7}),
    )

    assert response["FunctionError"] == "Unhandled"
    payload = json.loads(response["Payload"].read())
    assert payload["errorType"] == "FixtureDeclined"
    assert payload["errorMessage"] == "declined 7"
    assert payload["stackTrace"]
    assert "fixture_echo/handler.py" in payload["stackTrace"][-1]
    assert not any("lambda_dispatch" in frame for frame in payload["stackTrace"])


def test_stack_invoke_raises_like_a_function_error(fixture_stack):
    with pytest.raises(LambdaFunctionError) as raised:
        fixture_stack.invoke("EchoFunction", {"raise": "unexpected"})

    assert raised.value.error_type == "RuntimeError"
    assert raised.value.function_error == "Unhandled"


def test_unknown_function_is_resource_not_found(moto_env, lambda_client):
    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName="no-such-function", Payload=b"{}")

    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_function_without_local_code_is_never_stubbed(fixture_stack, lambda_client):
    role = lambda_client.get_function_configuration(
        FunctionName=fixture_stack.functions["EchoFunction"].name
    )["Role"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("app.py", "def handler(event, context):\n    return event\n")
    lambda_client.create_function(
        FunctionName="api-created-function",
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": archive.getvalue()},
    )

    with pytest.raises(LocalCodeUnavailable, match="api-created-function"):
        lambda_client.invoke(FunctionName="api-created-function", Payload=b"{}")


def test_function_environment_is_applied_to_the_process(fixture_stack):
    result = fixture_stack.invoke("EchoFunction", {})

    assert result["mode"] == "loud"
    assert os.environ["FIXTURE_ECHO_MODE"] == "loud"
    assert fixture_stack.functions["EchoFunction"].env["FIXTURE_GREETING"] == "hello"


def test_runtime_switches_tracing_off_for_the_process(moto_env):
    assert os.environ["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert os.environ["AWS_XRAY_CONTEXT_MISSING"] == "IGNORE_ERROR"


def test_two_functions_disagreeing_on_a_variable_fail_the_deploy(fixture_stack):
    with pytest.raises(EnvironmentConflict, match="FIXTURE_GREETING"):
        deploy(FIXTURE_TEMPLATE, parameters={"Greeting": "bonjour"}, stack_name="runtime-fixture-conflict")

    assert os.environ["FIXTURE_GREETING"] == "hello"


def test_state_machine_sees_the_exception_class_as_the_error_name(fixture_stack):
    response = fixture_stack.start_sync_execution({"raise": "FixtureDeclined", "id": 9}, name="declined-9")

    assert response["status"] == "SUCCEEDED"
    output = json.loads(response["output"])
    assert output["summary"]["error"]["Error"] == "FixtureDeclined"
    assert json.loads(output["summary"]["error"]["Cause"])["errorMessage"] == "declined 9"


def test_results_serialise_like_the_python_runtime():
    assert (
        dumps_like_lambda({"amount": Decimal("12.30"), "n": [Decimal("1E+2")]})
        == b'{"amount": 12.30, "n": [1E+2]}'
    )
    with pytest.raises(TypeError):
        dumps_like_lambda({"when": object()})


def test_event_and_dry_run_invocations_answer_like_lambda(fixture_stack, lambda_client):
    name = fixture_stack.functions["EchoFunction"].name

    queued = lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
    checked = lambda_client.invoke(FunctionName=name, InvocationType="DryRun", Payload=b"{}")

    assert queued["StatusCode"] == 202
    assert checked["StatusCode"] == 204


def test_a_deploy_is_a_cold_start_for_the_code_it_deploys(fixture_stack):
    fixture_stack.invoke("EchoFunction", {})
    warm = fixture_stack.invoke("EchoFunction", {})["invocations_since_import"]

    redeployed = deploy(FIXTURE_TEMPLATE, stack_name="runtime-fixture-redeployed")

    assert warm >= 2
    assert redeployed.invoke("EchoFunction", {})["invocations_since_import"] == 1
    assert fixture_stack.invoke("EchoFunction", {})["invocations_since_import"] == 2
