"""Lambda execution environments: isolated, one invocation at a time, with Lambda's limits."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from payctl.runtime import LambdaFunctionError, Stack, faults
from payctl.runtime._state import RuntimeState
from payctl.runtime.faults import FaultPlan, Kind, Rule

NO_RETRIES = Config(retries={"total_max_attempts": 1}, read_timeout=60)


def invoke(client: Any, name: str, event: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return json.loads(response["Payload"].read()), response.get("FunctionError")


def test_each_function_sees_exactly_its_own_environment_variables(probe_stack: Stack):
    red = probe_stack.invoke("RedProbeFunction", {})
    blue = probe_stack.invoke("BlueProbeFunction", {})

    assert red["colour"] == "red"
    assert blue["colour"] == "blue"
    assert red["probe_variables"] == ["PROBE_COLOUR", "PROBE_QUEUE_NAME"]
    assert blue["probe_variables"] == ["PROBE_COLOUR"]
    assert red["function_name"] == probe_stack.functions["RedProbeFunction"].name
    assert red["memory"] == "256"
    assert red["pid"] != blue["pid"]


def test_a_warm_environment_keeps_its_module_state_between_invocations(probe_stack: Stack):
    first = probe_stack.invoke("RedProbeFunction", {})
    second = probe_stack.invoke("RedProbeFunction", {})

    assert second["pid"] == first["pid"]
    assert second["invocations"] == first["invocations"] + 1


def test_concurrent_invocations_never_share_an_environment(
    probe_stack: Stack, lambda_client, process_runtime
):
    name = probe_stack.functions["RedProbeFunction"].name
    start = threading.Barrier(6)

    def run(_: int) -> dict[str, Any]:
        start.wait()
        return invoke(lambda_client, name, {"action": "sleep", "seconds": 0.5})[0]

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(run, range(6)))

    for one in results:
        for other in results:
            overlap = one is not other and one["started"] < other["ended"] and other["started"] < one["ended"]
            assert not (overlap and one["pid"] == other["pid"]), (one, other)
    # The burst started new environments; they stay, warm, for the next invocations.
    deadline = time.monotonic() + 60
    while process_runtime.environments.environment_count(name) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process_runtime.environments.environment_count(name) >= 2


def test_beyond_its_reserved_concurrency_a_function_is_throttled(probe_stack: Stack, process_runtime):
    client = boto3.client("lambda", region_name=process_runtime.region, config=NO_RETRIES)
    name = probe_stack.functions["BlueProbeFunction"].name
    probe_stack.invoke("BlueProbeFunction", {})  # warm: the one environment it may have
    busy = threading.Thread(target=invoke, args=(client, name, {"action": "sleep", "seconds": 1.5}))
    busy.start()
    time.sleep(0.5)

    with pytest.raises(ClientError) as throttled:
        invoke(client, name, {})
    busy.join()

    assert throttled.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert process_runtime.environments.environment_count(name) == 1


def test_a_handler_past_its_timeout_fails_with_lambdas_timeout_and_its_environment_is_discarded(
    probe_stack: Stack,
):
    before = probe_stack.invoke("RedProbeFunction", {})

    with pytest.raises(LambdaFunctionError) as timed_out:
        probe_stack.invoke("RedProbeFunction", {"action": "sleep", "seconds": 5})
    after = probe_stack.invoke("RedProbeFunction", {})

    assert timed_out.value.error_type == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in timed_out.value.error_message
    assert after["pid"] != before["pid"] or after["invocations"] == 1


def test_an_environment_over_its_memory_size_is_ended_with_lambdas_error(probe_stack: Stack):
    with pytest.raises(LambdaFunctionError) as killed:
        probe_stack.invoke("RedProbeFunction", {"action": "allocate", "megabytes": 400})
    after = probe_stack.invoke("RedProbeFunction", {})

    assert killed.value.error_type == "Runtime.OutOfMemory"
    assert after["colour"] == "red"


def test_a_runtime_that_exits_fails_the_invocation_with_an_exit_error(probe_stack: Stack):
    with pytest.raises(LambdaFunctionError) as exited:
        probe_stack.invoke("RedProbeFunction", {"action": "exit"})

    assert exited.value.error_type == "Runtime.ExitError"
    assert "exit status 3" in exited.value.error_message


def test_aws_calls_from_an_environment_reach_the_one_moto_state(probe_stack: Stack, process_runtime):
    sqs = boto3.client("sqs", region_name=process_runtime.region)
    url = probe_stack.outputs["ProbeQueueUrl"]

    probe_stack.invoke("RedProbeFunction", {"action": "send", "body": "from an environment"})

    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [message["Body"] for message in messages] == ["from an environment"]


def test_the_state_machine_retries_a_timed_out_task_then_succeeds(probe_stack: Stack, tmp_path):
    marker = tmp_path / "slept-once"

    result = probe_stack.start_sync_execution(
        {"action": "sleep_once", "seconds": 5, "marker": str(marker)}, name=f"timeout-once-{time.time_ns()}"
    )

    assert result["status"] == "SUCCEEDED"
    output = json.loads(result["output"])
    assert output["action"] == "sleep_once"
    assert "error" not in output


def test_the_state_machine_catches_a_task_that_always_times_out(probe_stack: Stack):
    result = probe_stack.start_sync_execution(
        {"action": "sleep", "seconds": 5}, name=f"timeout-always-{time.time_ns()}"
    )

    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["error"]["Error"] == "Sandbox.Timedout"


def test_cold_starts_are_measured_per_function(probe_stack: Stack, process_runtime: RuntimeState):
    probe_stack.invoke("BlueProbeFunction", {})

    stats = process_runtime.environments.stats[probe_stack.functions["BlueProbeFunction"].name]
    assert stats.cold_starts >= 1
    assert all(init > 0 for init in stats.init_ms)
    assert stats.invocations >= 1


@pytest.fixture
def fault_plan():
    installed = faults.use(FaultPlan(seed=11))
    yield installed
    faults.reset()


def test_a_crash_after_a_relayed_call_keeps_its_effect_and_ends_the_environment(
    probe_stack: Stack, process_runtime: RuntimeState, fault_plan: FaultPlan
):
    sqs = boto3.client("sqs", region_name=process_runtime.region)
    url = probe_stack.outputs["ProbeQueueUrl"]
    name = probe_stack.functions["RedProbeFunction"].name
    fault_plan.add(
        Rule(Kind.CRASH_AFTER_CALL, function=name, service="sqs", operation="SendMessage", count=1)
    )

    with pytest.raises(LambdaFunctionError) as crashed:
        probe_stack.invoke("RedProbeFunction", {"action": "send", "body": "sent, then died"})

    assert crashed.value.error_type == "Runtime.ExitError"
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [message["Body"] for message in messages] == ["sent, then died"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])


def test_a_dependency_error_on_a_relayed_call_is_retried_by_the_sdk_as_against_aws(
    probe_stack: Stack, process_runtime: RuntimeState, fault_plan: FaultPlan
):
    sqs = boto3.client("sqs", region_name=process_runtime.region)
    url = probe_stack.outputs["ProbeQueueUrl"]
    name = probe_stack.functions["RedProbeFunction"].name
    fault_plan.add(
        Rule(
            Kind.DEPENDENCY_ERROR,
            function=name,
            service="sqs",
            operation="SendMessage",
            error="InternalError",
            count=1,
        )
    )

    probe_stack.invoke("RedProbeFunction", {"action": "send", "body": "after one 500"})

    assert [fired.error for fired in fault_plan.fired] == ["InternalError"]
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [message["Body"] for message in messages] == ["after one 500"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])


def test_a_dependency_error_that_outlasts_the_sdk_retries_reaches_the_handler(
    probe_stack: Stack, fault_plan: FaultPlan
):
    name = probe_stack.functions["RedProbeFunction"].name
    fault_plan.add(
        Rule(
            Kind.DEPENDENCY_ERROR,
            function=name,
            service="sqs",
            operation="SendMessage",
            error="InternalError",
            rate=1.0,
        )
    )

    with pytest.raises(LambdaFunctionError) as failed:
        probe_stack.invoke("RedProbeFunction", {"action": "send", "body": "never sent"})

    assert failed.value.error_type == "ClientError"
    assert "InternalError" in failed.value.error_message
