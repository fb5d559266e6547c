"""Shim 16 — count every billable request the local stack serves, for the cost model.

Gap (moto 5.2.5): moto keeps no usage record. DynamoDB's ``ConsumedCapacity`` is a constant, not
the item sizes, indexes and transactions it should reflect. Nothing reports the history events
an Express execution would log. This shim records them. It is inert until ``start()`` is called.

- **Requests.** Every request is counted by service and operation where moto's in-process dispatch
  receives it (``BotocoreStubber.process_request``). Clients that are not boto3 reach the same
  place: the ASL interpreter's Lambda tasks, the event source pollers, and calls relayed from
  another process that are handed to the stubber. Requests made through the moto HTTP server are
  not counted; cost runs do not use it. Each request records its wall time and payload bytes:
  Lambda bills invocations by duration, SQS bills each 64 KB of payload as one request.
- **DynamoDB capacity.** Units are computed at ``DynamoHandler.call_action``, inside the
  DynamoDB shim's request lock. Writes compare the item before and after the request:
  - the larger of the two sizes, in 1 KB units; a transaction pays twice;
  - a refused condition still pays for the item as it stood;
  - each global index pays for its projected item when the write adds, removes or changes it,
    and pays twice when its key changes (a delete plus a put).

  Reads are counted in 4 KB units of the items returned, halved when eventually consistent.
  That undercounts a query whose filter drops items.
- **Express history.** Every history event an execution records, with its details stripped of
  execution data (input, output, parameters), as a logging configuration without
  ``IncludeExecutionData`` would write it.

API: ``start()``, ``stop()``, ``snapshot()``, ``reset()``.
"""

from __future__ import annotations

import functools
import json
import math
import re
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from payctl.runtime._patching import Patcher
from payctl.runtime.capacity_units import (
    SINGLE_WRITES,
    footprint,
    item_write_units,
    key_of,
    planned_writes,
    response_read_units,
)
from payctl.runtime.locking import MOTO_LOCK

GAP = "moto keeps no record of requests, capacity or history events"

# Step Functions keeps these out of the logs when IncludeExecutionData is false.
_EXECUTION_DATA = frozenset({"input", "output", "parameters", "result"})
_LAMBDA_INVOKE = re.compile(r"/functions/([^/]+)/invocations$")
_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})


@dataclass
class Usage:
    """What the stack served while the meter ran. Keys are ``(service, operation)`` or names."""

    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    # Each request's payload in 64 KB chunks (what SQS bills), by (service, operation).
    chunks_64k: Counter[tuple[str, str]] = field(default_factory=Counter)
    invocations: Counter[str] = field(default_factory=Counter)
    invoke_ms: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    express_ms: list[float] = field(default_factory=list)
    # (table, "table" | index name) -> write units; table -> read units.
    wru: defaultdict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    rru: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    # Write units by (table, operation) for the breakdown.
    wru_by_operation: defaultdict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    # Express history events: type -> count, and the JSON bytes of their stripped details.
    history_events: Counter[str] = field(default_factory=Counter)
    history_detail_bytes: Counter[str] = field(default_factory=Counter)

    def copy(self) -> Usage:
        return Usage(
            requests=Counter(self.requests),
            errors=Counter(self.errors),
            chunks_64k=Counter(self.chunks_64k),
            invocations=Counter(self.invocations),
            invoke_ms=defaultdict(list, {k: list(v) for k, v in self.invoke_ms.items()}),
            express_ms=list(self.express_ms),
            wru=defaultdict(float, self.wru),
            rru=defaultdict(float, self.rru),
            wru_by_operation=defaultdict(float, self.wru_by_operation),
            history_events=Counter(self.history_events),
            history_detail_bytes=Counter(self.history_detail_bytes),
        )


class Meter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._usage = Usage()
        self.active = False

    def start(self) -> None:
        """Count from now on, from zero."""
        with self._lock:
            self._usage = Usage()
            self.active = True

    def stop(self) -> Usage:
        with self._lock:
            self.active = False
            return self._usage.copy()

    def snapshot(self) -> Usage:
        with self._lock:
            return self._usage.copy()

    def reset(self) -> None:
        with self._lock:
            self._usage = Usage()

    def record_request(
        self, service: str, operation: str, *, status: int, payload_bytes: int, elapsed_ms: float, target: str
    ) -> None:
        key = (service, operation)
        with self._lock:
            usage = self._usage
            usage.requests[key] += 1
            usage.chunks_64k[key] += max(1, math.ceil(payload_bytes / 65536))
            if status >= 400:
                usage.errors[key] += 1
            if operation == "Invoke":
                usage.invocations[target] += 1
                usage.invoke_ms[target].append(elapsed_ms)
            elif operation == "StartSyncExecution":
                usage.express_ms.append(elapsed_ms)

    def record_capacity(self, table: str, operation: str, writes: dict[str, float], reads: float) -> None:
        with self._lock:
            for where, units in writes.items():
                self._usage.wru[(table, where)] += units
                self._usage.wru_by_operation[(table, operation)] += units
            if reads:
                self._usage.rru[table] += reads

    def record_history_event(self, event_type: str, detail_bytes: int) -> None:
        with self._lock:
            self._usage.history_events[event_type] += 1
            self._usage.history_detail_bytes[event_type] += detail_bytes


_METER = Meter()


def meter() -> Meter:
    return _METER


def start() -> None:
    _METER.start()


def stop() -> Usage:
    return _METER.stop()


def snapshot() -> Usage:
    return _METER.snapshot()


def reset() -> None:
    _METER.reset()


def _metered_call_action(original: Any) -> Any:
    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        if not _METER.active:
            return original(self)
        operation = str(self.get_endpoint_name(self.headers) or "")
        if operation not in _READS and operation not in (
            "BatchWriteItem",
            "TransactWriteItems",
            *SINGLE_WRITES,
        ):
            return original(self)
        params = getattr(self, "params", None) or json.loads(self.body or "{}")
        with MOTO_LOCK:
            backend = self.dynamodb_backend
            planned = []
            for table_name, kind, attributes in planned_writes(params, operation):
                try:
                    table = backend.get_table(table_name)
                except Exception:
                    continue
                key = key_of(table, attributes)
                planned.append((table_name, table, kind, key, footprint(table, key)))
            status, headers, body = original(self)
            applied = int(status) < 400
            transactional = operation == "TransactWriteItems"
            for table_name, table, kind, key, before in planned:
                after = footprint(table, key)
                # A refused transaction still pays for every item it named.
                units = item_write_units(before, after, applied=applied, transactional=transactional)
                _METER.record_capacity(
                    table_name, kind if not transactional else f"Transact{kind}", units, 0.0
                )
        if operation in _READS and int(status) < 400:
            raw = body.encode() if isinstance(body, str) else body
            for table_name, units_read in response_read_units(params, operation, raw).items():
                _METER.record_capacity(table_name, operation, {}, units_read)
        return status, headers, body

    return call_action


# ------------------------------------------------------------------------------------ requests


def classify(method: str, url: str, headers: Any, body: bytes | None) -> tuple[str, str, str]:
    """(service, operation, target) of one request; target is the Lambda function for Invoke."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    target_header = headers.get("X-Amz-Target") if headers is not None else None
    if isinstance(target_header, bytes):
        target_header = target_header.decode()
    if host.startswith("streams.dynamodb.") or ".streams-ddb." in host:
        service = "dynamodbstreams"
    elif host.startswith(("states.", "sync-states.")):
        service = "stepfunctions"
    elif ".s3." in f".{host}" or host.startswith("s3.") or host.endswith(".s3.amazonaws.com"):
        service = "s3"
    else:
        service = host.split(".")[0]
    if target_header:
        return service, str(target_header).rsplit(".", 1)[-1], ""
    if service == "lambda":
        match = _LAMBDA_INVOKE.search(parts.path)
        if match and method == "POST":
            name = unquote(match.group(1))
            if name.startswith("arn:"):
                name = name.split(":")[6]
            return service, "Invoke", name
    if service == "s3":
        segments = [segment for segment in parts.path.split("/") if segment]
        # Path style names the bucket in the path, virtual-hosted style in the host.
        has_key = len(segments) >= (2 if host.startswith("s3.") else 1)
        verb = {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}
        if has_key and method in verb:
            return service, verb[method], ""
        return service, f"{method} bucket", ""
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body or "")
    action = re.search(r"(?:^|&)Action=([A-Za-z]+)", text)
    if action:
        return service, action.group(1), ""
    return service, f"{method} {parts.path}", ""


def _metered_process_request(original: Any) -> Any:
    @functools.wraps(original)
    def process_request(self: Any, request: Any) -> Any:
        if not _METER.active:
            return original(self, request)
        started = time.perf_counter()
        response = original(self, request)
        if response is None:
            return response
        elapsed_ms = (time.perf_counter() - started) * 1000
        status, _headers, body = response
        service, operation, target = classify(request.method, request.url, request.headers, request.body)
        request_body = request.body if isinstance(request.body, bytes | str) else b""
        sent = len(request_body.encode() if isinstance(request_body, str) else request_body)
        received = len(body.encode() if isinstance(body, str) else (body or b""))
        _METER.record_request(
            service,
            operation,
            status=int(status),
            payload_bytes=max(sent, received),
            elapsed_ms=elapsed_ms,
            target=target,
        )
        return response

    return process_request


def _strip_execution_data(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_execution_data(v) for k, v in value.items() if k not in _EXECUTION_DATA}
    if isinstance(value, list):
        return [_strip_execution_data(v) for v in value]
    return value


def _metered_add_event(original: Any) -> Any:
    @functools.wraps(original)
    def add_event(
        self: Any, context: Any, event_type: Any, event_details: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        if _METER.active:
            details = _strip_execution_data(dict(event_details or {}))
            detail_bytes = len(json.dumps(details, default=str, separators=(",", ":")))
            _METER.record_history_event(str(getattr(event_type, "value", event_type)), detail_bytes)
        return original(self, context, event_type, event_details, *args, **kwargs)

    return add_event


def install(patcher: Patcher) -> None:
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.dynamodb.responses import DynamoHandler
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    patcher.wrap(BotocoreStubber, "process_request", _metered_process_request, gap=GAP)
    patcher.wrap(DynamoHandler, "call_action", _metered_call_action, gap=GAP)
    patcher.wrap(EventManager, "add_event", _metered_add_event, gap=GAP)
