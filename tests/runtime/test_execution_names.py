"""Shim 10: a nameless execution fails loudly instead of being named None."""

from __future__ import annotations

import boto3
import pytest

from payctl.runtime import MissingExecutionName


def test_nameless_start_execution_fails_loudly(fixture_stack):
    sfn = boto3.client("stepfunctions", region_name=fixture_stack.region)

    with pytest.raises(MissingExecutionName):
        sfn.start_execution(stateMachineArn=fixture_stack.outputs["StateMachineArn"], input="{}")


def test_nameless_sync_execution_fails_loudly(fixture_stack):
    sfn = boto3.client("stepfunctions", region_name=fixture_stack.region)

    with pytest.raises(MissingExecutionName):
        sfn.start_sync_execution(stateMachineArn=fixture_stack.outputs["StateMachineArn"], input="{}")
    with pytest.raises(MissingExecutionName):
        fixture_stack.start_sync_execution({}, name="")
