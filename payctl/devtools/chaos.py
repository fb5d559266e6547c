"""``make chaos``: the whole local stack under a seeded fault plan, then a conservation check.

1. Starts the local stack (the real template on moto, the API on a free port, the pollers) with a
   fault plan from :func:`fault_plan`: Lambda service errors (retried and not), exceptions inside
   handlers, timeouts and lost responses after a handler ran, AWS errors on every DynamoDB, S3,
   SQS and Step Functions call, a crash right after every write of every step, and duplicate
   deliveries, each at its share of ``--rate``.
2. POSTs ``--payments`` payments (mostly valid, some that validation declines, some that fraud
   declines) to ``/payments/batch``, resending what the API refused or lost, as a client would.
3. Drains the queue: waits on the truth (queue depth, messages in flight) with a deadline.
4. Lifts the faults, replays the DLQ through the operator's path (``payctl dlq replay``'s code,
   ``payctl.tools.operator.dlq``, over the moto server as another process would), and drains again.
5. Checks conservation in the tables and prints the seed, a conservation table, the faults that
   fired and every violation with its transaction id. Exits 1 on any violation.

The same ``--seed`` gives the same fault decisions: each is a hash of the seed and where it is
asked (see ``payctl.runtime.faults``). Timing still differs between runs (threads, the ASL's
jittered retry waits), so which batch a message lands in, and so the exact counts, can vary.

The consumer takes ten payments per invocation, so its per-call rates are a tenth of the rate:
each of its invocations then meets a fault about as often as one workflow step does. The API's
handler gets every kind but the crash: a crash after it queued leaves its idempotency record in
progress until the lock lapses (the invocation's timeout), which only makes the client wait.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from payctl.devtools.chaos_plan import FUNCTIONS, WRITES, chaos_payments, fault_plan
from payctl.devtools.conservation import Conservation, check, snapshot
from payctl.runtime import faults, set_retry_wait_scale
from payctl.runtime.faults import Kind
from payctl.runtime.session import LambdaMode
from payctl.tools.api_client import ApiClient
from payctl.tools.connection import Connection
from payctl.tools.operator.dlq import Dlq, Selection
from payctl.tools.operator.queues import queue_depth
from payctl.tools.submitter.send import submit_payments

if TYPE_CHECKING:
    from payctl.local.local_stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]
CHAOS_PARAMETERS = {
    "EnvironmentSuffix": "chaos",
    "ApiThrottleRateLimit": "1000",
    "ApiThrottleBurstLimit": "1000",
    "ConsumerMaxConcurrency": "8",
}
# A failed batch is visible again after a second (the queue's own timeout stays as deployed).
FAILED_VISIBILITY_SECONDS = 1
# The ASL's retry waits (1, 2, 4 s with full jitter) are multiplied by this locally: thousands of
# retried steps would otherwise spend most of the run asleep. 1 gives the real waits.
DEFAULT_RETRY_WAIT_SCALE = 0.1


class DrainTimeout(RuntimeError):
    """The queue still held messages at the deadline."""


# ---------------------------------------------------------------------------- driving the stack


def submit(client: ApiClient, payments: list[dict[str, Any]], deadline: float) -> dict[str, str]:
    """Send every payment until the API accepted (or replayed) it; idempotency key -> transaction id.

    A chunk lost to a fault is sent again whole (its keys make that safe); items the API refused
    with a retryable error are sent again until the deadline.
    """
    accepted: dict[str, str] = {}
    pending = list(payments)
    while pending and time.monotonic() < deadline:
        summary = submit_payments(client, pending)
        for result in summary.results:
            if result["status"] in ("accepted", "replayed"):
                accepted[result["idempotency_key"]] = result["transaction_id"]
        pending = [p for p in pending if p["idempotency_key"] not in accepted]
        if pending:
            time.sleep(1.0)
    return accepted


def drain(sqs: Any, queue_url: str, deadline: float, console: Console, what: str) -> float:
    """Wait until the queue holds nothing, visible or in flight, twice in a row. Seconds taken."""
    started = time.monotonic()
    empty = 0
    last_report = 0.0
    while True:
        depth = queue_depth(sqs, queue_url)
        empty = empty + 1 if depth.total == 0 else 0
        if empty >= 2:
            return time.monotonic() - started
        now = time.monotonic()
        if now >= deadline:
            raise DrainTimeout(
                f"{what}: the queue still holds {depth.visible} visible and {depth.in_flight} in-flight "
                f"messages at the deadline"
            )
        if now - last_report >= 10:
            console.print(f"  {what}: {depth.visible} visible, {depth.in_flight} in flight")
            last_report = now
        time.sleep(0.5)


# ---------------------------------------------------------------------------- the run


@dataclass
class ChaosResult:
    seed: int
    payments: int
    rate: float
    accepted: int
    replayed: int
    retry_wait_scale: float
    conservation: Conservation
    fired: Counter[tuple[str, str, str]]
    calls: Counter[tuple[str, str, str]]
    invocations: Counter[str]
    wall_seconds: float
    phases: dict[str, float]

    @property
    def violations(self) -> list[tuple[str, str]]:
        return self.conservation.violations

    def as_json(self) -> dict[str, Any]:
        kinds: Counter[str] = Counter()
        for (kind, _, _), count in self.fired.items():
            kinds[kind] += count
        return {
            "seed": self.seed,
            "payments": self.payments,
            "rate": self.rate,
            "accepted": self.accepted,
            "replayed_from_dlq": self.replayed,
            "retry_wait_scale": self.retry_wait_scale,
            "violations": [{"transaction_id": t, "what": w} for t, w in self.violations],
            "conservation": [list(row) for row in self.conservation.table],
            "faults_by_kind": dict(sorted(kinds.items())),
            "faults": [[*key, count] for key, count in sorted(self.fired.items())],
            "calls": [[*key, count] for key, count in sorted(self.calls.items())],
            "invocations": dict(sorted(self.invocations.items())),
            "wall_seconds": round(self.wall_seconds, 1),
            "phases": {k: round(v, 1) for k, v in self.phases.items()},
        }


def count_audit_stream(stack: Any, deadline: float) -> float:
    """The counters and the archive follow the tables through their streams: run them until empty."""
    mark = time.monotonic()
    while time.monotonic() < deadline:
        if not sum(poller.poll_once().invoked for poller in stack.stream_pollers()):
            break
    return time.monotonic() - mark


class _Run:
    """One chaos run on a started local stack: its fault plan, clients, timed phases and problems."""

    def __init__(self, local: LocalStack, seed: int, rate: float, console: Console) -> None:
        import boto3

        self.console = console
        self.outputs = local.outputs
        self.stack = local.stack
        names = {logical_id: local.stack.function_name(logical_id) for logical_id in FUNCTIONS}
        queue_name = self.outputs["PaymentsQueueUrl"].rsplit("/", 1)[-1]
        self.plan = faults.use(fault_plan(seed, rate, names, queue_name))
        self.clients = {
            name: boto3.client(name, region_name=local.region) for name in ("sqs", "dynamodb", "s3")
        }
        # The operator's path: the DLQ tools over the moto server, as another process reaches it.
        self.dlq = Dlq(
            Connection(
                region=local.region, outputs=self.outputs, endpoint_url=local.moto_endpoint, local=True
            )
        )
        self.client = ApiClient(local.api_url, local.api_key_value())
        self.phases: dict[str, float] = {}
        self.problems: list[tuple[str, str]] = []
        self.replayed = 0

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        mark = time.monotonic()
        yield
        self.phases[name] = time.monotonic() - mark

    def submit(self, payments: list[dict[str, Any]], deadline: float) -> dict[str, str]:
        with self.phase("submit"):
            accepted = submit(self.client, payments, deadline)
        if len(accepted) < len(payments):
            self.problems.append(("-", f"the API never accepted {len(payments) - len(accepted)} payments"))
        return accepted

    def drain_and_replay(self, deadline: float) -> None:
        """Drain under the faults, lift them, replay the DLQ through the operator's path, drain again."""
        queue_url = self.outputs["PaymentsQueueUrl"]
        try:
            self.phases["drain"] = drain(self.clients["sqs"], queue_url, deadline, self.console, "drain")
            self.plan.lift()
            with self.phase("replay"):
                report = self.dlq.replay(Selection(), operator="chaos")
                self.replayed = len(report.moved)
                self.console.print(
                    f"faults lifted; replayed {self.replayed} DLQ messages ({len(report.failed)} failed, "
                    f"{len(report.complete)} already complete left in the DLQ)"
                )
            self.phases["drain after replay"] = drain(
                self.clients["sqs"], queue_url, deadline, self.console, "drain after replay"
            )
        except DrainTimeout as exc:
            self.plan.lift()
            self.console.print(f"[red]{exc}[/]")
            self.problems.append(("-", str(exc)))

    def conservation(self, accepted: dict[str, str], deadline: float) -> Conservation:
        self.phases["count"] = count_audit_stream(self.stack, deadline)
        with self.phase("check"):
            conservation = check(snapshot(self.clients, self.outputs, self.dlq), accepted.values())
            conservation.violations[:0] = self.problems
        return conservation


def run(
    seed: int,
    count: int,
    rate: float,
    timeout: float,
    console: Console,
    retry_wait_scale: float = 1.0,
    lambda_mode: LambdaMode = "inline",
) -> ChaosResult:
    from payctl.local.local_stack import LocalStack

    started = time.monotonic()
    payments = chaos_payments(count, seed)
    with LocalStack(
        ROOT / "template.yaml",
        CHAOS_PARAMETERS,
        api_port=0,
        moto_port=0,
        failed_visibility_seconds=FAILED_VISIBILITY_SECONDS,
        lambda_mode=lambda_mode,
    ) as local:
        set_retry_wait_scale(retry_wait_scale)
        chaos = _Run(local, seed, rate, console)
        chaos.phases["start"] = time.monotonic() - started
        console.print(
            f"stack up in {chaos.phases['start']:.1f}s; "
            f"submitting {count} payments (seed {seed}, rate {rate:.0%})"
        )
        deadline = time.monotonic() + timeout
        accepted = chaos.submit(payments, deadline)
        chaos.drain_and_replay(deadline)
        conservation = chaos.conservation(accepted, deadline)
        result = ChaosResult(
            seed=seed,
            payments=count,
            rate=rate,
            accepted=len(set(accepted.values())),
            replayed=chaos.replayed,
            retry_wait_scale=retry_wait_scale,
            conservation=conservation,
            fired=chaos.plan.fired_counts(),
            calls=Counter(chaos.plan.calls),
            invocations=Counter(chaos.plan.invocations),
            wall_seconds=time.monotonic() - started,
            phases=chaos.phases,
        )
    faults.reset()
    return result


def print_report(result: ChaosResult, console: Console) -> None:
    table = Table(
        title=f"Conservation (seed {result.seed}, {result.payments} payments, fault rate {result.rate:.0%})"
    )
    for column in ("what", "count", "", ""):
        table.add_column(column, justify="left" if column == "what" else "right")
    for row in result.conservation.table:
        table.add_row(*row)
    console.print(table)

    fired = Table(title=f"Faults that fired ({sum(result.fired.values())})")
    fired.add_column("kind")
    fired.add_column("error")
    fired.add_column("where")
    fired.add_column("count", justify="right")
    by_error: Counter[tuple[str, str, str]] = Counter()
    for (kind, error, target), count in result.fired.items():
        # A call's target is "<function>:<service>.<operation>": the service says whose error it is.
        where = target.partition(":")[2].partition(".")[0] if ":" in target else "lambda"
        by_error[(kind, error, "sqs" if kind == Kind.DUPLICATE_DELIVERY else where)] += count
    for (kind, error, where), count in sorted(by_error.items()):
        fired.add_row(kind, error, where, str(count))
    console.print(fired)

    per_payment = max(1, result.accepted)
    calls = sum(result.calls.values())
    writes = sum(c for (_, service, op), c in result.calls.items() if op in WRITES.get(service, ()))
    console.print(
        f"handler AWS calls {calls} ({calls / per_payment:.2f} per payment, "
        f"writes {writes / per_payment:.2f}); "
        f"invocations {sum(result.invocations.values()) / per_payment:.2f} per payment"
    )
    console.print(
        f"DLQ messages replayed after the faults were lifted: {result.replayed}; "
        f"ASL retry waits x{result.retry_wait_scale}"
    )
    console.print("phases: " + ", ".join(f"{k} {v:.1f}s" for k, v in result.phases.items()))
    if result.violations:
        console.print(f"[red bold]{len(result.violations)} violations[/]")
        for tid, what in result.violations[:200]:
            console.print(f"  {tid}  {what}")
        if len(result.violations) > 200:
            console.print(f"  ... and {len(result.violations) - 200} more")
    else:
        console.print("[green bold]0 violations[/]")
    console.print(
        f"seed {result.seed}: wall time {result.wall_seconds:.1f}s (replay with --seed {result.seed})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run the pipeline under a seeded fault plan and check conservation."
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--payments", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=0.10, help="fault rate per decision point (0..1)")
    parser.add_argument(
        "--timeout", type=float, default=None, help="deadline in seconds (default scales with --payments)"
    )
    parser.add_argument(
        "--retry-wait-scale",
        type=float,
        default=DEFAULT_RETRY_WAIT_SCALE,
        help="multiply the state machine's retry waits by this (local only; 1 = the real waits)",
    )
    parser.add_argument(
        "--lambda-mode",
        choices=["inline", "process"],
        default="inline",
        help="where handlers run: inline (the stack's process, the default: a crash is an exception "
        "that ends the invocation) or process (Lambda execution environments: every crash kills one, "
        "and the next invocation pays a cold start)",
    )
    parser.add_argument("--report", type=Path, help="also write the result as JSON here")
    parser.add_argument("--lambda-log", type=Path, default=Path(".payctl") / "chaos-lambda.log")
    args = parser.parse_args(argv)
    if not 0 <= args.rate <= 1 or args.payments < 1:
        parser.error("--rate is 0..1 and --payments at least 1")
    timeout = args.timeout or 120 + args.payments * 0.5
    terminal = sys.__stdout__
    console = Console(file=terminal, width=None if terminal is not None and terminal.isatty() else 120)
    args.lambda_log.parent.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    # The functions log JSON lines to stdout as Lambda expects, and the pollers warn about every
    # failed batch: both go to the log file, the report to the terminal.
    with args.lambda_log.open("w") as log, contextlib.redirect_stdout(log):
        logging.basicConfig(stream=log, level=logging.WARNING, force=True)
        result = run(
            args.seed, args.payments, args.rate, timeout, console, args.retry_wait_scale, args.lambda_mode
        )
    print_report(result, console)
    console.print(f"function logs: {args.lambda_log}")
    if args.report:
        args.report.write_text(json.dumps(result.as_json(), indent=2))
    return 1 if result.violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
