"""Shim 9 — make moto's ASL interpreter fast enough to push real batches through.

Gap (moto 5.2.5): every JSONPath evaluation builds a new jsonpath-ng parser (tens of ms each:
``asl.utils.json_path.extract_json`` and ``asl.component.common.path.result_path.ResultPath`` call
``parse`` every time), and every Task state builds a new boto3 client
(``asl.utils.boto_client.boto_client_for``). Both are pure functions of their arguments, so they
are cached: parsed paths by path text, clients by (region, service). Executions run on several
threads (Parallel branches, concurrent executions); ``functools.lru_cache`` is thread-safe, and
client creation is serialised because ``boto3.client`` on a shared session is not thread-safe,
while using a created client from several threads is.

Switchable (``moto_session(speedups=False)``) so a benchmark can compare.
"""

from __future__ import annotations

import functools
import sys
import threading
from typing import Any

from payctl.runtime._patching import Patcher

GAP = "moto ASL interpreter re-parses JSONPath and builds a boto3 client per task"

_PARSE_CACHE_SIZE = 4096


def _cached(parse: Any) -> Any:
    cached = functools.lru_cache(maxsize=_PARSE_CACHE_SIZE)(parse)
    cached.__wrapped_parse__ = parse  # type: ignore[attr-defined]
    return cached


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


def install(patcher: Patcher) -> dict[str, Any]:
    """Install the caches; returns them so tests can look at hit counts."""
    # Importing the parser loads every service integration, so all holders of the factory exist.
    import moto.stepfunctions.parser.asl.parse.asl_parser  # noqa: F401
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.utils import boto_client, json_path

    json_path_parse = _cached(json_path.parse)
    result_path_parse = _cached(result_path.parse)
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
    return {"json_path_parse": json_path_parse, "result_path_parse": result_path_parse, "clients": clients}
