"""Shim 4: injected Lambda service errors surface as the service's errors, and the ASL retries them."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from payctl.runtime import lambda_faults


@pytest.fixture
def faults(fixture_stack):
    fixture_stack.lambda_faults.clear()
    lambda_faults.registry().triggered.clear()
    yield fixture_stack.lambda_faults
    fixture_stack.lambda_faults.clear()


def test_an_injected_fault_is_a_client_error_for_the_next_invocations_only(fixture_stack, faults):
    client = boto3.client("lambda", config=Config(retries={"total_max_attempts": 1}))
    faults.inject("EchoFunction", error="Lambda.TooManyRequestsException", times=1)

    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName=fixture_stack.functions["EchoFunction"].name, Payload=b"{}")

    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert faults.remaining("EchoFunction") == 0
    assert fixture_stack.invoke("EchoFunction", {"name": "after"})["greeting"] == "hello, after"


def test_the_state_machine_retries_an_injected_lambda_service_exception(fixture_stack, faults):
    faults.inject("EchoFunction", error="Lambda.ServiceException", times=1)

    response = fixture_stack.start_sync_execution({"name": "retried"}, name="retried")

    assert response["status"] == "SUCCEEDED"
    assert json.loads(response["output"])["summary"]["greeting"] == "hello, retried"
    assert lambda_faults.registry().triggered == [
        (fixture_stack.functions["EchoFunction"].name, "ServiceException")
    ]


def test_a_service_error_the_workflow_does_not_retry_fails_it_under_its_lambda_name(fixture_stack, faults):
    faults.inject("EchoFunction", error="Lambda.ResourceNotReadyException")

    response = fixture_stack.start_sync_execution({"name": "not-ready"}, name="not-ready")

    assert response["status"] == "FAILED"
    assert response["error"] == "Lambda.ResourceNotReadyException"
    assert "Service: AWSLambda; Status Code: 502" in response["cause"]


def test_only_lambda_service_error_names_can_be_injected(faults):
    with pytest.raises(ValueError, match="not a Lambda service error"):
        faults.inject("EchoFunction", error="FixtureDeclined")
