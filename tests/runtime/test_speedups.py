"""Shim 9: JSONPath parses, boto3 clients and parsed programs are cached, switchably, thread-safely."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import boto3
import jsonpath_ng.ext
from moto.stepfunctions.parser.asl.component.component import Component
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import json_path

from payctl.runtime import set_speedups
from payctl.runtime.speedups import ClientCache, _draw_heap_keys


def test_jsonpath_parses_and_clients_are_reused_across_executions(fixture_stack, moto_env):
    caches = moto_env.extras["speedups_caches"]
    before = caches["json_path_parse"].cache_info().hits

    for index in range(2):
        assert (
            fixture_stack.start_sync_execution({"name": "c"}, name=f"cached-{index}")["status"] == "SUCCEEDED"
        )

    assert caches["json_path_parse"].cache_info().hits > before
    assert isinstance(lambda_eval_utils.boto_client_for, ClientCache)
    assert len(caches["clients"]) >= 1
    assert caches["programs"].cache_info().hits >= 1


def test_a_shared_program_has_every_heap_key_drawn_before_use(fixture_stack):
    definition = boto3.client("stepfunctions").describe_state_machine(
        stateMachineArn=fixture_stack.outputs["StateMachineArn"]
    )["definition"]
    program = AmazonStateLanguageParser.parse(definition)[0]

    _draw_heap_keys(program)

    components = _eval_components(program)
    assert len(components) > 10
    assert all("_EvalComponent__heap_key" in vars(component) for component in components)


def _eval_components(program):
    found, pending, seen = [], [program], set()
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, EvalComponent):
            found.append(node)
        if isinstance(node, dict):
            pending.extend(node.values())
        elif isinstance(node, list | tuple):
            pending.extend(node)
        elif isinstance(node, Component):
            pending.extend(vars(node).values())
    return found


def test_speedups_can_be_switched_off_and_on_inside_a_session(fixture_stack, moto_env):
    set_speedups(False)
    try:
        assert json_path.parse is jsonpath_ng.ext.parse
        assert not isinstance(lambda_eval_utils.boto_client_for, ClientCache)
        slow = fixture_stack.start_sync_execution({"name": "slow"}, name="uncached")
    finally:
        set_speedups(True)

    assert slow["status"] == "SUCCEEDED"
    assert json_path.parse is moto_env.extras["speedups_caches"]["json_path_parse"]


def test_concurrent_executions_share_the_caches_safely(fixture_stack):
    def run(index: int) -> dict:
        return fixture_stack.start_sync_execution({"name": f"p{index}"}, name=f"parallel-{index}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(run, range(16)))

    assert [r["status"] for r in responses] == ["SUCCEEDED"] * 16
    assert sorted(json.loads(r["output"])["summary"]["greeting"] for r in responses) == sorted(
        f"hello, p{index}" for index in range(16)
    )


def test_request_dispatch_lists_each_response_class_once(fixture_stack, moto_env):
    """Every request still finds its handler method; the method list is built once per class."""
    from moto.core import responses, utils
    from moto.sqs.responses import SQSResponse

    method_names = moto_env.extras["speedups_caches"]["method_names"]
    assert responses.method_names_from_class is method_names
    sqs = boto3.client("sqs")
    before = method_names.cache_info()
    for _ in range(3):
        attributes = sqs.get_queue_attributes(
            QueueUrl=fixture_stack.outputs["WorkQueueUrl"], AttributeNames=["QueueArn"]
        )["Attributes"]
        assert attributes["QueueArn"] == fixture_stack.outputs["WorkQueueArn"]
    after = method_names.cache_info()

    assert after.hits + after.misses >= before.hits + before.misses + 3
    assert after.misses <= before.misses + 1  # listed at most once, on the first request
    assert method_names(SQSResponse) == utils.method_names_from_class(SQSResponse)
