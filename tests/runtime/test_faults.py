"""Shim 4: one seeded fault plan; each kind surfaces the way AWS shows it, and decisions replay."""

from __future__ import annotations

import json
import random
import threading
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from payctl.runtime import LambdaFunctionError, faults
from payctl.runtime.faults import FaultPlan, Kind, Rule

ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def plan(fixture_stack):
    """A fresh plan for the test, put back to an empty one afterwards."""
    installed = faults.use(FaultPlan(seed=7))
    yield installed
    faults.reset()


def _tids(count: int) -> list[str]:
    return [str(uuid.UUID(int=index + 1)) for index in range(count)]


# ---------------------------------------------------------------------------- decisions (no AWS)


def _decisions(plan: FaultPlan, tids: list[str], order: list[int], threads: int) -> set[tuple[str, int]]:
    """Evaluate on_invoke three times per transaction, spread over threads in the given order."""
    fired: set[tuple[str, int]] = set()
    lock = threading.Lock()
    chunks = [order[i::threads] for i in range(threads)]

    def work(indexes: list[int]) -> None:
        for index in indexes:
            for attempt in range(3):
                if plan.on_invoke("fn", tids[index]) is not None:
                    with lock:
                        fired.add((tids[index], attempt))

    workers = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return fired


def _rated_plan(seed: int) -> FaultPlan:
    return FaultPlan(seed=seed, rules=[Rule(Kind.LAMBDA_SERVICE_ERROR, rate=0.2)])


def test_the_same_seed_fires_the_same_faults_whatever_the_interleaving():
    tids = _tids(300)
    sequential = _decisions(_rated_plan(42), tids, list(range(300)), threads=1)
    shuffled = list(range(300))
    random.Random(1).shuffle(shuffled)

    concurrent = _decisions(_rated_plan(42), tids, shuffled, threads=8)

    assert concurrent == sequential
    assert 120 < len(sequential) < 240  # 20% of 900 evaluations
    assert _decisions(_rated_plan(43), tids, list(range(300)), threads=1) != sequential


def test_a_count_fires_on_the_first_matching_evaluations_only():
    plan = FaultPlan(rules=[Rule(Kind.HANDLER_ERROR, function="fn", count=2)])

    results = [plan.on_invoke("fn", None) for _ in range(4)]

    assert [r is not None for r in results] == [True, True, False, False]
    assert results[0] == faults.LambdaFault(Kind.HANDLER_ERROR, faults.HANDLER_ERROR, "fn", None)
    assert plan.on_invoke("other", None) is None
    assert plan.remaining("fn") == 0


def test_a_rule_can_aim_at_one_transaction():
    target, other = _tids(2)
    plan = FaultPlan(rules=[Rule(Kind.CRASH_AFTER_CALL, service="s3", transaction_id=target, rate=1.0)])

    assert plan.after_aws_call("fn", "s3", "PutObject", target)
    assert not plan.after_aws_call("fn", "s3", "PutObject", other)
    assert not plan.after_aws_call("fn", "dynamodb", "PutItem", target)
    assert plan.fired_counts() == {("crash_after_call", faults.EXIT_ERROR, "fn:s3.PutObject"): 1}


def test_dependency_errors_carry_each_services_own_code_and_status():
    plan = FaultPlan(
        rules=[
            Rule(Kind.DEPENDENCY_ERROR, "SlowDown", service="s3", operation="PutObject", count=1),
            Rule(Kind.DEPENDENCY_ERROR, "ThrottlingException", service="dynamodb", count=1),
        ]
    )

    s3 = plan.before_aws_call("fn", "s3", "PutObject", None)
    dynamodb = plan.before_aws_call("fn", "dynamodb", "UpdateItem", None)

    assert (s3.code, s3.status) == ("SlowDown", 503) if s3 else pytest.fail("no S3 fault")
    assert (dynamodb.code, dynamodb.status) == ("ThrottlingException", 400) if dynamodb else pytest.fail()
    with pytest.raises(ValueError, match="no error"):
        Rule(Kind.DEPENDENCY_ERROR, "SlowDown", service="dynamodb", count=1)


def test_a_lifted_plan_injects_nothing_but_keeps_what_fired():
    plan = FaultPlan(rules=[Rule(Kind.DUPLICATE_DELIVERY, rate=1.0)])
    assert plan.duplicate_delivery("q", None)

    plan.lift()

    assert not plan.duplicate_delivery("q", None)
    assert len(plan.fired) == 1


def test_only_lambda_service_error_names_are_lambda_service_errors():
    with pytest.raises(ValueError, match="not a Lambda service error"):
        Rule(Kind.LAMBDA_SERVICE_ERROR, "FixtureDeclined", count=1)
    with pytest.raises(ValueError, match="either a rate or a count"):
        Rule(Kind.TIMEOUT)


@pytest.mark.parametrize(
    ("service", "operation", "params"),
    [
        ("dynamodb", "UpdateItem", {"Key": {"transaction_id": {"S": "{tid}"}}}),
        ("dynamodb", "PutItem", {"Item": {"transaction_id": {"S": "{tid}"}, "status": {"S": "RECEIVED"}}}),
        (
            "dynamodb",
            "TransactWriteItems",
            {"TransactItems": [{"Put": {"Item": {"pk": {"S": "{tid}"}, "sk": {"S": "ingest#received"}}}}]},
        ),
        ("dynamodb", "Query", {"ExpressionAttributeValues": {":self": {"S": "{tid}"}}}),
        ("s3", "PutObject", {"Bucket": "b", "Key": "archive/2026/12/01/{tid}.json"}),
        ("stepfunctions", "StartSyncExecution", {"name": "{tid}-2", "input": "{}"}),
        ("sqs", "SendMessage", {"MessageAttributes": {"transaction_id": {"StringValue": "{tid}"}}}),
    ],
)
def test_the_transaction_of_an_aws_call_comes_from_its_parameters(service, operation, params):
    tid = str(uuid.uuid4())
    filled = json.loads(json.dumps(params).replace("{tid}", tid))

    assert faults.transaction_id_of(service, operation, filled) == tid


def test_calls_about_no_payment_have_no_transaction():
    counter = {"Key": {"pk": {"S": "counter#2026-12-01#03"}, "sk": {"S": "payment.settled"}}}
    assert faults.transaction_id_of("dynamodb", "UpdateItem", counter) is None
    assert faults.transaction_id_of("sqs", "ReceiveMessage", {"QueueUrl": "u"}) is None


def test_the_transaction_of_an_event_is_the_steps_payload_or_the_first_record():
    tid = str(uuid.uuid4())
    record = {"body": json.dumps({"transaction_id": tid}), "messageAttributes": {}}

    assert faults.transaction_id_of_event({"transaction_id": tid, "action": "settle"}) == tid
    assert faults.transaction_id_of_event({"Records": [record]}) == tid
    assert faults.transaction_id_of_event({"httpMethod": "POST"}) is None


# ---------------------------------------------------------------------------- through the runtime


def test_an_injected_service_error_is_a_client_error_for_the_next_invocations_only(fixture_stack, plan):
    client = boto3.client("lambda", config=ONE_ATTEMPT)
    fixture_stack.faults.inject("EchoFunction", error="Lambda.TooManyRequestsException", times=1)

    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName=fixture_stack.functions["EchoFunction"].name, Payload=b"{}")

    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert fixture_stack.faults.remaining("EchoFunction") == 0
    assert fixture_stack.invoke("EchoFunction", {"name": "after"})["greeting"] == "hello, after"


def test_the_state_machine_retries_an_injected_lambda_service_exception(fixture_stack, plan):
    fixture_stack.faults.inject("EchoFunction", error="Lambda.ServiceException", times=1)

    response = fixture_stack.start_sync_execution({"name": "retried"}, name="retried")

    assert response["status"] == "SUCCEEDED"
    assert json.loads(response["output"])["summary"]["greeting"] == "hello, retried"
    echo = fixture_stack.functions["EchoFunction"].name
    assert plan.fired == [faults.Fired(Kind.LAMBDA_SERVICE_ERROR, "Lambda.ServiceException", echo, None)]


def test_a_service_error_the_workflow_does_not_retry_fails_it_under_its_lambda_name(fixture_stack, plan):
    fixture_stack.faults.inject("EchoFunction", error="Lambda.ResourceNotReadyException")

    response = fixture_stack.start_sync_execution({"name": "not-ready"}, name="not-ready")

    assert response["status"] == "FAILED"
    assert response["error"] == "Lambda.ResourceNotReadyException"
    assert "Service: AWSLambda; Status Code: 502" in response["cause"]


def test_an_exception_inside_the_handler_is_a_function_error(fixture_stack, plan):
    fixture_stack.faults.add(Rule(Kind.HANDLER_ERROR, function="EchoFunction", count=1))

    with pytest.raises(LambdaFunctionError) as raised:
        fixture_stack.invoke("EchoFunction", {"name": "x"})

    assert raised.value.error_type == faults.HANDLER_ERROR


def _sent(sqs, queues) -> list[dict]:
    response = sqs.receive_message(QueueUrl=queues.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(m["Body"]) for m in response.get("Messages", [])]


def test_a_timeout_after_the_handler_ran_keeps_its_effects(fixture_stack, plan, queues, sqs):
    tid = str(uuid.uuid4())
    fixture_stack.faults.add(Rule(Kind.TIMEOUT, function="EchoFunction", transaction_id=tid, count=1))

    with pytest.raises(LambdaFunctionError) as raised:
        fixture_stack.invoke("EchoFunction", {"send_to": queues.url, "transaction_id": tid})

    assert raised.value.error_type == "Sandbox.Timedout"
    assert _sent(sqs, queues) == [{"transaction_id": tid}]


def test_a_lost_response_is_a_service_error_after_the_effects(fixture_stack, plan, queues, sqs):
    fixture_stack.faults.add(Rule(Kind.LOST_RESPONSE, function="EchoFunction", count=1))
    client = boto3.client("lambda", config=ONE_ATTEMPT)

    with pytest.raises(ClientError) as raised:
        client.invoke(
            FunctionName=fixture_stack.functions["EchoFunction"].name,
            Payload=json.dumps({"send_to": queues.url}).encode(),
        )

    assert raised.value.response["Error"]["Code"] == "SdkClientException"
    assert _sent(sqs, queues) == [{"transaction_id": None}]


def test_a_dependency_error_reaches_the_handlers_call_unretried(fixture_stack, plan, queues, sqs):
    fixture_stack.faults.add(
        Rule(Kind.DEPENDENCY_ERROR, "InternalError", service="sqs", operation="SendMessage", count=1)
    )

    with pytest.raises(LambdaFunctionError) as raised:
        fixture_stack.invoke("EchoFunction", {"send_to": queues.url})

    assert raised.value.error_type == "ClientError"
    assert "(InternalError) when calling the SendMessage operation" in raised.value.error_message
    assert _sent(sqs, queues) == []
    # The call from outside any handler (the test's own) is never faulted.
    echo = fixture_stack.functions["EchoFunction"].name
    assert plan.fired_counts() == {("dependency_error", "InternalError", f"{echo}:sqs.SendMessage"): 1}


def test_a_crash_after_a_call_keeps_its_effect_and_ends_the_invocation(fixture_stack, plan, queues, sqs):
    tid = str(uuid.uuid4())
    fixture_stack.faults.add(Rule(Kind.CRASH_AFTER_CALL, service="sqs", transaction_id=tid, count=1))

    with pytest.raises(LambdaFunctionError) as raised:
        fixture_stack.invoke("EchoFunction", {"send_to": queues.url, "transaction_id": tid})

    assert raised.value.error_type == faults.EXIT_ERROR
    assert _sent(sqs, queues) == [{"transaction_id": tid}]


def test_a_duplicate_delivery_puts_a_copy_of_the_message_back(consumer_poller, plan, queues, sqs):
    tid = str(uuid.uuid4())
    plan.add(Rule(Kind.DUPLICATE_DELIVERY, transaction_id=tid, count=1))
    sqs.send_message(QueueUrl=queues.url, MessageBody=json.dumps({"ok": True, "transaction_id": tid}))

    first = consumer_poller.poll_once()
    second = consumer_poller.poll_once()

    assert (first.deleted, second.deleted) == (1, 1)
    assert len(plan.fired) == 1


def test_work_a_handler_hands_to_a_thread_pool_is_still_that_functions(plan):
    from concurrent.futures import ThreadPoolExecutor

    with faults.invocation("fn"), ThreadPoolExecutor(max_workers=2) as pool:
        seen = list(pool.map(lambda _: faults.calling_function(), range(4)))

    assert seen == ["fn"] * 4
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(faults.calling_function).result() is None
