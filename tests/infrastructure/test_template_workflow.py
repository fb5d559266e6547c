"""The Express state machine resource and its ASL definition."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

TRANSIENT_LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
FAKE_ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"


def _states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, including those inside Parallel branches."""
    for name, state in definition["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _states(branch)


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, str):
        yield node


def _substituted(asl_text: str) -> str:
    return PLACEHOLDER.sub(lambda m: FAKE_ARN.format(m.group(1).removesuffix("Arn")), asl_text)


@pytest.fixture(scope="module")
def asl_text(asl: dict[str, Any]) -> str:
    return json.dumps(asl)


def test_state_machine_is_express_traced_and_keeps_payment_data_out_of_logs(
    resources: dict[str, Any],
) -> None:
    """Given the workflow resource, it is EXPRESS with X-Ray and logs without execution data."""
    props = resources["PaymentsStateMachine"]["Properties"]
    log_group = resources["PaymentsStateMachineLogGroup"]["Properties"]

    assert props["Type"] == "EXPRESS"
    assert props["DefinitionUri"] == "statemachine/payment_workflow.asl.json"
    assert props["Tracing"] == {"Enabled": True}
    assert props["Logging"]["IncludeExecutionData"] is False
    assert props["Logging"]["Level"] in {"ALL", "ERROR"}
    assert props["Logging"]["Destinations"] == [
        {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": ["PaymentsStateMachineLogGroup", "Arn"]}}}
    ]
    assert log_group["LogGroupName"]["Fn::Sub"].startswith("/aws/vendedlogs/states/")


def test_definition_substitutions_cover_every_placeholder(resources: dict[str, Any], asl_text: str) -> None:
    """Given the ASL placeholders, each has a substitution; an unmatched one would reach AWS literally."""
    substitutions = resources["PaymentsStateMachine"]["Properties"]["DefinitionSubstitutions"]

    assert set(PLACEHOLDER.findall(asl_text)) == set(substitutions)
    assert substitutions == {
        "ValidationFunctionArn": {"Fn::GetAtt": ["ValidationFunction", "Arn"]},
        "FraudFunctionArn": {"Fn::GetAtt": ["FraudFunction", "Arn"]},
        "SettlementFunctionArn": {"Fn::GetAtt": ["SettlementFunction", "Arn"]},
    }


def test_definition_parses_with_the_moto_interpreter(asl_text: str) -> None:
    """Given the ASL with ARNs substituted, the interpreter the local runtime uses accepts it."""
    program, _ = AmazonStateLanguageParser.parse(_substituted(asl_text))

    assert program.start_at.start_at_name == "Checks"


def test_state_after_parallel_reads_branch_array_not_input(asl: dict[str, Any]) -> None:
    """Given a Parallel state, its result is an array of branch outputs, not the input.

    The ResultSelector must read "$[0]"/"$[1]" and the Choice after it must read what that selector built.
    """
    checks = asl["States"]["Checks"]
    decide = asl["States"][checks["Next"]]
    variables = {
        condition["Variable"]
        for rule in decide["Choices"]
        for condition in rule.get("Or", rule.get("And", [rule]))
    }

    assert checks["Type"] == "Parallel"
    assert checks["ResultSelector"] == {"validation.$": "$[0]", "fraud.$": "$[1]"}
    assert checks["ResultPath"] == "$.checks"
    assert [branch["StartAt"] for branch in checks["Branches"]] == ["Validate", "ScoreFraud"]
    assert decide["Type"] == "Choice"
    assert variables == {"$.checks.validation.outcome", "$.checks.fraud.outcome"}


def test_no_state_path_references_an_input_wrapper(asl: dict[str, Any]) -> None:
    """Given the input {transaction_id, payment, received_at}, no path reads a "$.input." wrapper."""
    wrapped = [text for text in _strings(asl) if "$.input" in text]

    assert wrapped == []


def test_every_task_retries_transient_lambda_errors_with_jitter(asl: dict[str, Any]) -> None:
    """Given Lambda's transient service errors, every Task retries them with capped, jittered backoff."""
    tasks = {name: state for name, state in _states(asl) if state["Type"] == "Task"}

    assert set(tasks) == {"Validate", "ScoreFraud", "Settle", "Decline", "RecordFailure"}
    for name, task in tasks.items():
        [retry] = [r for r in task["Retry"] if set(r["ErrorEquals"]) >= TRANSIENT_LAMBDA_ERRORS]
        assert retry["JitterStrategy"] == "FULL", name
        assert retry["MaxDelaySeconds"] >= retry["IntervalSeconds"], name
        assert retry["BackoffRate"] > 1, name
        assert retry["MaxAttempts"] >= 1, name
        assert task["Resource"] == "arn:aws:states:::lambda:invoke", name
        assert task["OutputPath"] == "$.Payload", name


def test_each_parallel_branch_catches_its_own_failure(asl: dict[str, Any]) -> None:
    """Given one check erroring, its branch turns the error into an ERROR outcome instead of failing both."""
    for branch in asl["States"]["Checks"]["Branches"]:
        task = branch["States"][branch["StartAt"]]
        [catch] = task["Catch"]
        fallback = branch["States"][catch["Next"]]

        assert catch["ErrorEquals"] == ["States.ALL"]
        assert catch["ResultPath"] == "$.error"
        assert fallback["Type"] == "Pass"
        assert fallback["Parameters"] == {
            "outcome": "ERROR",
            "error.$": "$.error.Error",
            "cause.$": "$.error.Cause",
        }


def test_only_explicit_pass_and_approve_settle(asl: dict[str, Any]) -> None:
    """Given an outcome nobody recognises, the payment fails closed instead of settling by default."""
    decide = asl["States"]["Decide"]
    [settle_rule] = [rule for rule in decide["Choices"] if rule["Next"] == "Settle"]

    assert decide["Default"] != "Settle"
    assert settle_rule["And"] == [
        {"Variable": "$.checks.validation.outcome", "StringEquals": "PASS"},
        {"Variable": "$.checks.fraud.outcome", "StringEquals": "APPROVE"},
    ]


def test_technical_failures_are_recorded_then_fail_the_execution(asl: dict[str, Any]) -> None:
    """Given a caught failure, RecordFailure writes FAILED and the execution fails so SQS redelivers it."""
    states = asl["States"]
    record = states["RecordFailure"]

    for name in ("Settle", "Decline"):
        [catch] = states[name]["Catch"]
        assert (catch["ErrorEquals"], catch["ResultPath"], catch["Next"]) == (
            ["States.ALL"],
            "$.error",
            "RecordFailure",
        )
    assert record["Parameters"]["Payload"]["action"] == "fail"
    assert record["Parameters"]["Payload"]["error.$"] == "$.error"
    after = states[record["Next"]]
    assert after["Type"] == "Choice"
    failed_rule = {"Variable": "$.status", "StringEquals": "FAILED", "Next": "PaymentFailed"}
    assert after["Choices"][0] == failed_rule
    assert states["PaymentFailed"] == {**states["PaymentFailed"], "Type": "Fail", "Error": "PaymentFailed"}


def test_the_failure_path_never_fails_a_finished_payment(asl: dict[str, Any]) -> None:
    """RecordFailure on a payment another attempt made final: done ends the execution successfully,
    anything missing fails it (SQS delivers it again and the re-run completes it)."""
    states = asl["States"]
    after = states[states["RecordFailure"]["Next"]]
    [done] = [rule for rule in after["Choices"] if rule["Next"] != "PaymentFailed"]

    assert {"Variable": "$.complete", "BooleanEquals": True} in done["And"]
    assert states[done["Next"]]["Type"] == "Succeed"
    assert (states[after["Default"]]["Type"], states[after["Default"]]["Error"]) == (
        "Fail",
        "PaymentIncomplete",
    )


STEP_ERRORS = {"DependencyError", "Sandbox.Timedout", "Runtime.ExitError"}


def test_every_step_with_idempotent_writes_retries_its_own_errors(asl: dict[str, Any]) -> None:
    """A dependency error, a timeout or a crash inside a step is retried: its writes are idempotent
    and a re-run completes what the earlier attempt left out."""
    tasks = [(name, state) for name, state in _states(asl) if state["Type"] == "Task"]
    assert len(tasks) == 5
    for name, task in tasks:
        retriers = [r for r in task["Retry"] if set(r["ErrorEquals"]) >= STEP_ERRORS]
        assert len(retriers) == 1, name
        assert retriers[0]["JitterStrategy"] == "FULL", name
        assert retriers[0]["MaxAttempts"] >= 2, name


PASS = {"outcome": "PASS", "reasons": [], "checked_at": "2025-01-01T00:00:00.000000Z"}
FAIL = {"outcome": "FAIL", "reasons": ["currency_not_supported"], "checked_at": "2025-01-01T00:00:00.000000Z"}
APPROVE = {"outcome": "APPROVE", "score": "0.12", "reasons": [], "checked_at": "2025-01-01T00:00:00.000000Z"}
RAISE = {"errorMessage": "dependency unavailable", "errorType": "RuntimeError"}
STATUS = {"settle": "SETTLED", "decline": "DECLINED", "fail": "FAILED"}
# A region of its own keeps these resources apart from any other moto state in the same test process.
REGION = "ca-central-1"
STEP_FUNCTIONS = ("ValidationFunction", "FraudFunction", "SettlementFunction")


@dataclass
class ScriptedLambdas:
    """What each step function answers in one run; settlement answers with the status its action implies."""

    validation: dict[str, Any]
    fraud: dict[str, Any]
    settlement_raises_on: tuple[str, ...] = ()
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def answer(self, function_name: str, event: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((function_name, event))
        if function_name == "ValidationFunction":
            return self.validation
        if function_name == "FraudFunction":
            return self.fraud
        if event["action"] in self.settlement_raises_on:
            return RAISE
        return {"transaction_id": event["transaction_id"], "status": STATUS[event["action"]]}


@pytest.fixture(scope="module")
def run_workflow(asl_text: str) -> Iterator[Callable[..., tuple[dict[str, Any], ScriptedLambdas]]]:
    """Execute the real definition on moto's interpreter with scripted Lambda answers.

    moto's Docker-less Lambda answers every invoke with a fixed string, so its invoke is replaced by one
    that reads the current script; a RAISE answer is returned as an unhandled function error.
    """
    current: list[ScriptedLambdas] = []

    def scripted_invoke(
        _backend: Any, function_name: str, _qualifier: Any, body: Any, _headers: Any, response_headers: Any
    ) -> str:
        answer = current[-1].answer(function_name.rsplit(":", 1)[-1], json.loads(body))
        if answer is RAISE:
            response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps(answer)

    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    with mock_aws(config=config), mock.patch.object(LambdaSimpleBackend, "invoke", scripted_invoke):
        iam = boto3.client("iam", region_name=REGION)
        lambda_client = boto3.client("lambda", region_name=REGION)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        role = iam.create_role(RoleName="infrastructure-test-workflow", AssumeRolePolicyDocument="{}")
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
        functions = {
            name: lambda_client.create_function(
                FunctionName=name, Runtime="python3.12", Role=role["Role"]["Arn"], Handler="handler.handler",
                Code={"ZipFile": code.getvalue()},
            )["FunctionArn"]
            for name in STEP_FUNCTIONS
        }  # fmt: skip
        definition = PLACEHOLDER.sub(lambda m: functions[m.group(1).removesuffix("Arn")], asl_text)
        machine = sfn.create_state_machine(
            name="infrastructure-test-workflow",
            definition=definition,
            roleArn=role["Role"]["Arn"],
            type="EXPRESS",
        )["stateMachineArn"]

        def run(name: str, lambdas: ScriptedLambdas) -> tuple[dict[str, Any], ScriptedLambdas]:
            current.append(lambdas)
            payload = {
                "transaction_id": f"tx-{name}",
                "payment": {"amount": "12.34", "currency": "USD"},
                "received_at": "2025-01-01T00:00:00.000000Z",
            }
            # moto has no StartSyncExecution and runs executions on a thread, so poll for the outcome.
            started = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(payload))
            deadline = time.monotonic() + 10
            result = sfn.describe_execution(executionArn=started["executionArn"])
            while result["status"] == "RUNNING":
                assert time.monotonic() < deadline, "execution did not finish"
                time.sleep(0.02)
                result = sfn.describe_execution(executionArn=started["executionArn"])
            return result, lambdas

        yield run

        sfn.delete_state_machine(stateMachineArn=machine)
        for name in STEP_FUNCTIONS:
            lambda_client.delete_function(FunctionName=name)
        iam.delete_role(RoleName="infrastructure-test-workflow")


def _settlement_calls(lambdas: ScriptedLambdas) -> list[dict[str, Any]]:
    return [event for name, event in lambdas.calls if name == "SettlementFunction"]


def test_workflow_settles_when_validation_passes_and_fraud_approves(run_workflow: Any) -> None:
    """Given PASS and APPROVE, when the workflow runs, then settlement settles and the execution succeeds."""
    result, lambdas = run_workflow("settle", ScriptedLambdas(PASS, APPROVE))
    [settle] = _settlement_calls(lambdas)

    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["status"] == "SETTLED"
    assert settle["action"] == "settle"
    assert settle["checks"] == {"validation": PASS, "fraud": APPROVE}
    assert settle["payment"] == {"amount": "12.34", "currency": "USD"}


def test_workflow_declines_a_business_failure_as_a_successful_execution(run_workflow: Any) -> None:
    """Given a validation FAIL, the payment is declined and the execution still succeeds."""
    result, lambdas = run_workflow("decline", ScriptedLambdas(FAIL, APPROVE))

    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["status"] == "DECLINED"
    assert [event["action"] for event in _settlement_calls(lambdas)] == ["decline"]


def test_workflow_records_a_check_error_then_fails(run_workflow: Any) -> None:
    """Given the fraud Lambda raising, FAILED is recorded with the error and the execution fails."""
    result, lambdas = run_workflow("check-error", ScriptedLambdas(PASS, RAISE))
    [fail] = _settlement_calls(lambdas)

    assert result["status"] == "FAILED"
    assert result["error"] == "PaymentFailed"
    assert fail["action"] == "fail"
    assert fail["checks"]["fraud"]["outcome"] == "ERROR"
    assert fail["error"]["Error"] == "ChecksErrored"
    assert json.loads(fail["error"]["Cause"]) == fail["checks"]
    assert fail["execution_name"] == "check-error"


def test_workflow_never_settles_an_unrecognised_outcome(run_workflow: Any) -> None:
    """Given a check answering an outcome outside the contract, nothing settles and the execution fails."""
    result, lambdas = run_workflow("unrecognised", ScriptedLambdas({**PASS, "outcome": "pass"}, APPROVE))

    assert result["status"] == "FAILED"
    assert [event["action"] for event in _settlement_calls(lambdas)] == ["fail"]


def test_workflow_records_failure_when_settlement_itself_errors(run_workflow: Any) -> None:
    """Given settlement raising on settle, the caught error reaches RecordFailure and the execution fails."""
    result, lambdas = run_workflow(
        "settle-error", ScriptedLambdas(PASS, APPROVE, settlement_raises_on=("settle",))
    )
    settle, fail = _settlement_calls(lambdas)

    assert result["status"] == "FAILED"
    assert (settle["action"], fail["action"]) == ("settle", "fail")
    assert fail["error"]["Error"] == "RuntimeError"
    assert fail["checks"] == {"validation": PASS, "fraud": APPROVE}
