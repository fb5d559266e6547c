"""Shim 9: the interpreter's JSONPath parses and boto3 clients are cached, switchably, thread-safely."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import jsonpath_ng.ext
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.utils import json_path

from payctl.runtime import set_speedups
from payctl.runtime.speedups import ClientCache


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
