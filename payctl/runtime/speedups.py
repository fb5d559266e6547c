"""Shim 9 — make moto's ASL interpreter fast enough to push real batches through.

Gap (moto 5.2.5): every JSONPath evaluation builds a new jsonpath-ng parser
(``asl.utils.json_path.extract_json`` and ``asl.component.common.path.result_path.ResultPath`` call
``parse`` every time), every Task state builds a new boto3 client
(``asl.utils.boto_client.boto_client_for``), and every execution re-parses the whole definition
with ANTLR (``ExecutionWorker._get_evaluation_entrypoint``, 60-160 ms for the payment workflow).
All three are cached: parsed paths by path text, clients by (region, service), programs by
definition text.

Also in moto's request path, for every service: ``BaseResponse.call_action`` lists the response
class's methods with ``inspect.getmembers`` on every request, to check that the action has a
handler method (about 3% of the local pipeline's CPU). The list is cached per class.

Thread safety (executions and Parallel branches run on threads): ``functools.lru_cache`` is
thread-safe; client creation is serialised because ``boto3.client`` on a shared session is not,
while one client may serve many threads. A parsed program keeps no per-execution state (retry
counters and the like live in each execution's ``Environment``) except the lazily drawn random
``heap_key`` that names a component's slot in that environment; two executions drawing it at once
could each see a different key, so every key is drawn before a program is shared.

Switchable (``moto_session(speedups=False)``) so a benchmark can compare.
"""

from __future__ import annotations

import functools
import sys
import threading
from typing import Any

from payctl.runtime import dynamodb, sqs_backend
from payctl.runtime._patching import Patcher

GAP = "moto ASL interpreter re-parses JSONPath and builds a boto3 client per task"

_PARSE_CACHE_SIZE = 4096


class ClientCache:
    def __init__(self, factory: Any) -> None:
        self._factory = factory
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def __call__(self, region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service)
        client = self._clients.get(key)
        if client is None:
            with self._lock:
                client = self._clients.get(key)
                if client is None:
                    client = self._factory(
                        region=region, service=service, state_credentials=state_credentials
                    )
                    self._clients[key] = client
        return client

    def __len__(self) -> int:
        return len(self._clients)


def _draw_heap_keys(program: Any) -> None:
    from moto.stepfunctions.parser.asl.component.component import Component
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    seen: set[int] = set()
    pending = [program]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, EvalComponent):
            _ = node.heap_key
        if isinstance(node, dict):
            pending.extend(node.values())
        elif isinstance(node, (list, tuple, set, frozenset)):
            pending.extend(node)
        elif isinstance(node, Component):
            pending.extend(vars(node).values())


def _program_cache() -> Any:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    @functools.lru_cache(maxsize=64)
    def program_for(definition: str) -> Any:
        program = AmazonStateLanguageParser.parse(definition)[0]
        _draw_heap_keys(program)
        return program

    return program_for


def install(patcher: Patcher) -> dict[str, Any]:
    """Install the caches; returns them so tests can look at hit counts."""
    # Importing the parser loads every service integration, so all holders of the factory exist.
    import moto.stepfunctions.parser.asl.parse.asl_parser  # noqa: F401
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.utils import boto_client, json_path

    json_path_parse = functools.lru_cache(maxsize=_PARSE_CACHE_SIZE)(json_path.parse)
    result_path_parse = functools.lru_cache(maxsize=_PARSE_CACHE_SIZE)(result_path.parse)
    patcher.setattr(json_path, "parse", json_path_parse, gap=GAP)
    patcher.setattr(result_path, "parse", result_path_parse, gap=GAP)

    original_factory = boto_client.boto_client_for
    clients = ClientCache(original_factory)
    # Each service integration imported the function by name, so patch every module that holds it.
    prefix = "moto.stepfunctions.parser."
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith(prefix) and getattr(module, "boto_client_for", None) is original_factory:
            patcher.setattr(module, "boto_client_for", clients, gap=GAP)
    if lambda_eval_utils.boto_client_for is not clients:
        raise RuntimeError("the Lambda task integration no longer uses boto_client_for; re-check this shim")

    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    program_for = _program_cache()

    def cached_entrypoint(self: Any) -> Any:
        return program_for(self._evaluation_details.state_machine_details.definition)

    patcher.setattr(ExecutionWorker, "_get_evaluation_entrypoint", cached_entrypoint, gap=GAP)
    from moto.core import responses, utils

    if responses.method_names_from_class is not utils.method_names_from_class:
        raise RuntimeError("moto's call_action no longer uses method_names_from_class; re-check this shim")
    method_names = functools.lru_cache(maxsize=None)(utils.method_names_from_class)
    patcher.setattr(responses, "method_names_from_class", method_names, gap=GAP)

    dynamodb.install_speedups(patcher)
    sqs_backend.install(patcher)
    return {
        "method_names": method_names,
        "json_path_parse": json_path_parse,
        "result_path_parse": result_path_parse,
        "clients": clients,
        "programs": program_for,
    }
