"""One metered run of the local stack for ``make cost``: warm every function, send the payments on
one path (a batch, or one POST each), drain the queues and the audit stream, keep the meter's counts."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class CountingStream(io.TextIOBase):
    """Stands in for stdout while a path runs: counts the bytes handlers print, shows none."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        return len(text)

    def flush(self) -> None:
        return None


@dataclass
class PathRun:
    name: str
    payments: int
    api_requests: int
    usage: Any
    api_usage: Any
    handler_log_bytes: int
    function_ids: dict[str, str] = field(default_factory=dict)


def cost_payments(count: int, run: str) -> list[dict[str, Any]]:
    from payctl.devtools.bench import bench_payments

    return bench_payments(count, run)


def _drain(local: Any) -> None:
    """Run the event sources until every queue and stream is empty (bounded).

    The queue is drained first, then the audit stream: the stream's event source gathers for its
    batching window (10 s), which at volume holds far more rows than one queue batch makes.
    """
    stack = local.stack
    for _ in range(1000):
        moved = 0
        for function_id, sources in stack.event_sources.items():
            for _source in sources:
                while (received := stack.poll_once(function_id).received) > 0:
                    moved += received
        for poller in stack.stream_pollers():
            moved += poller.poll_once().invoked
        if moved == 0:
            return
    raise RuntimeError("the queues did not drain")


def run_path(name: str, count: int, *, single: bool, stream: CountingStream) -> PathRun:
    from payctl.local.local_stack import LocalStack
    from payctl.runtime import metering
    from payctl.tools.api_client import ApiClient

    with LocalStack(ROOT / "template.yaml", api_port=0, serve_moto=False, pollers=False) as local:
        client = ApiClient(local.api_url, local.api_key_value())
        # Warm every function once, so the durations are of warm invocations.
        warm = cost_payments(1, f"warm-{name}")[0]
        key = warm.pop("idempotency_key")
        client.post("/payments", warm, headers={"Idempotency-Key": key})
        _drain(local)

        payments = cost_payments(count, name)
        stream.bytes = 0
        metering.start()
        if single:
            for payment in payments:
                key = payment.pop("idempotency_key")
                response = client.post("/payments", payment, headers={"Idempotency-Key": key})
                if response.status != 202:
                    raise SystemExit(f"POST /payments answered {response.status}: {response.body!r}")
            api_requests = count
        else:
            response = client.post("/payments/batch", {"payments": payments})
            if response.status != 207 or response.json()["accepted"] != count:
                raise SystemExit(f"POST /payments/batch answered {response.status}: {response.body!r}")
            api_requests = 1
        api_usage = metering.snapshot()
        _drain(local)
        usage = metering.stop()
        ids = {info.name: logical_id for logical_id, info in local.stack.functions.items()}
    return PathRun(name, count, api_requests, usage, api_usage, stream.bytes, ids)
