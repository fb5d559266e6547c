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
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from random import Random
from typing import Any

from rich.console import Console
from rich.table import Table

from payctl.runtime import faults, set_retry_wait_scale
from payctl.runtime.faults import FaultPlan, Kind, Rule
from payctl.runtime.session import LambdaMode
from payctl.tools.api_client import ApiClient
from payctl.tools.connection import Connection
from payctl.tools.operator.dlq import Dlq, Selection
from payctl.tools.operator.queues import queue_depth
from payctl.tools.operator.status import COUNTER_PREFIX
from payctl.tools.submitter.send import submit_payments

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
CONSUMER_BATCH = 10
FUNCTIONS = (
    "IngestApiFunction",
    "IngestConsumerFunction",
    "ValidationFunction",
    "FraudFunction",
    "SettlementFunction",
)
WORKFLOW_FUNCTIONS = ("ValidationFunction", "FraudFunction", "SettlementFunction")
WRITES = {
    "dynamodb": ("PutItem", "UpdateItem", "TransactWriteItems"),
    "s3": ("PutObject",),
    "stepfunctions": ("StartSyncExecution",),
}
# Per decision point, how a rate is shared among the kinds asked there.
INVOKE_SHARES = (
    (Kind.LAMBDA_SERVICE_ERROR, "Lambda.ServiceException", 0.25),
    (Kind.LAMBDA_SERVICE_ERROR, "Lambda.TooManyRequestsException", 0.15),
    (Kind.LAMBDA_SERVICE_ERROR, "Lambda.ResourceNotReadyException", 0.2),
    (Kind.HANDLER_ERROR, faults.HANDLER_ERROR, 0.4),
)
RETURNED_SHARES = (
    (Kind.TIMEOUT, faults.TIMEOUT_ERROR, 0.5),
    (Kind.LOST_RESPONSE, faults.LOST_RESPONSE_ERROR, 0.5),
)
TERMINAL = ("SETTLED", "DECLINED", "FAILED")
TRAILS = {
    "SETTLED": {"ingest#received", "validation#completed", "fraud#completed", "settlement#settled"},
    "DECLINED": {"ingest#received", "validation#completed", "fraud#completed", "settlement#declined"},
    "FAILED": {"ingest#received"},
}
# Actions that happen once per payment at most (a failure is recorded once per attempt).
ONCE = ("payment.received", "payment.settled", "payment.declined")


class DrainTimeout(RuntimeError):
    """The queue still held messages at the deadline."""


# ---------------------------------------------------------------------------- the inputs


def chaos_payments(count: int, seed: int) -> list[dict[str, Any]]:
    """80% valid (four currencies), 10% that validation declines, 10% that fraud declines."""
    rng = Random(seed)
    amounts = {
        "USD": lambda: f"{rng.randint(100, 50000) / 100:.2f}",
        "EUR": lambda: f"{rng.randint(100, 50000) / 100:.2f}",
        "JPY": lambda: str(rng.randint(100, 50000)),
        "KWD": lambda: f"{rng.randint(1000, 90000) / 1000:.3f}",
    }
    payments = []
    for index in range(count):
        kind = index % 10
        currency = ("USD", "EUR", "JPY", "KWD")[index % 4]
        card_country, customer_country = "US", "US"
        amount = amounts[currency]()
        if kind == 8:
            currency, amount = "USD", "0.10"  # under the minimum charge
        elif kind == 9:
            card_country, customer_country = "KP", "IR"  # high-risk countries: fraud declines
        payments.append(
            {
                "idempotency_key": f"chaos-{seed}-{index:05d}",
                "merchant_id": f"m_chaos{index % 7}",
                "amount": amount,
                "currency": currency,
                "payment_method": {
                    "type": "card",
                    "token": f"tok_chaos_{index:05d}",
                    "last4": f"{rng.randint(0, 9999):04d}",
                    "brand": "visa",
                    "country": card_country,
                },
                "customer": {"id": f"c_chaos_{seed}_{index:05d}", "country": customer_country},
                "reference": f"chaos-{index:05d}",
            }
        )
    return payments


def fault_plan(seed: int, rate: float, function_names: dict[str, str], queue_name: str) -> FaultPlan:
    """Every kind of fault, ``rate`` per decision point (the consumer's per-call rates a tenth)."""
    plan = FaultPlan(seed=seed)
    for logical_id in FUNCTIONS:
        name = function_names[logical_id]
        per_call = rate / CONSUMER_BATCH if logical_id == "IngestConsumerFunction" else rate
        for kind, error, share in (*INVOKE_SHARES, *RETURNED_SHARES):
            plan.add(Rule(kind, error, function=name, rate=rate * share))
        for service, codes in faults.DEPENDENCY_ERRORS.items():
            for code in codes:
                plan.add(
                    Rule(
                        Kind.DEPENDENCY_ERROR,
                        code,
                        function=name,
                        service=service,
                        rate=per_call / len(codes),
                    )
                )
        if logical_id == "IngestApiFunction":
            continue
        for service, operations in WRITES.items():
            for operation in operations:
                plan.add(
                    Rule(
                        Kind.CRASH_AFTER_CALL,
                        function=name,
                        service=service,
                        operation=operation,
                        rate=per_call,
                    )
                )
    plan.add(Rule(Kind.DUPLICATE_DELIVERY, queue=queue_name, rate=rate))
    return plan


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


# ---------------------------------------------------------------------------- what the tables hold


@dataclass
class Snapshot:
    transactions: dict[str, dict[str, Any]]
    settlements: dict[str, dict[str, Any]]
    archive: dict[str, list[dict[str, Any]]]  # transaction id -> one document per stored version
    rows: dict[str, list[dict[str, Any]]]  # transaction id -> audit rows
    counters: Counter[str]
    dlq: set[str]


def _scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items.extend(page["Items"])
    return items


def snapshot(clients: dict[str, Any], outputs: dict[str, str], dlq: Dlq) -> Snapshot:
    from boto3.dynamodb.types import TypeDeserializer

    plain = TypeDeserializer()

    def items(table: str) -> list[dict[str, Any]]:
        return [
            {k: plain.deserialize(v) for k, v in item.items()} for item in _scan(clients["dynamodb"], table)
        ]

    transactions = {i["transaction_id"]: i for i in items(outputs["TransactionsTableName"])}
    settlements = {i["transaction_id"]: i for i in items(outputs["SettlementsTableName"])}
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    counters: Counter[str] = Counter()
    for item in items(outputs["AuditTableName"]):
        if str(item["pk"]).startswith(COUNTER_PREFIX):
            # The audit stream shards' high-water marks share the prefix and hold no count.
            if "count" in item:
                counters[item["sk"]] += int(item["count"])
        else:
            rows[item["pk"]].append(item)
    s3 = clients["s3"]
    bucket = outputs["ArchiveBucketName"]
    archive: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix="archive/"):
        for version in page.get("Versions", []):
            body = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])["Body"]
            document = json.loads(body.read(), parse_float=Decimal)
            archive[document["transaction_id"]].append(document)
    in_dlq = {m.transaction_id for m in dlq.read(limit=100_000) if m.transaction_id}
    return Snapshot(transactions, settlements, dict(archive), dict(rows), counters, in_dlq)


@dataclass
class Conservation:
    table: list[tuple[str, str, str, str]] = field(default_factory=list)
    violations: list[tuple[str, str]] = field(default_factory=list)

    def violate(self, transaction_id: str, what: str) -> None:
        self.violations.append((transaction_id, what))


def check(snap: Snapshot, accepted: Iterable[str]) -> Conservation:
    """Every accepted payment complete for its outcome, and the totals agree table by table."""
    result = Conservation()
    expected = set(accepted) | set(snap.transactions)
    statuses: Counter[str] = Counter()
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for tid in sorted(expected):
        item = snap.transactions.get(tid)
        if item is None:
            result.violate(tid, "accepted by the API but no transaction item")
            continue
        status = str(item.get("status"))
        statuses[status] += 1
        if status not in TERMINAL:
            result.violate(tid, f"status {status}: not SETTLED, DECLINED or FAILED")
        elif status == "FAILED" and tid not in snap.dlq:
            result.violate(tid, "FAILED but not in the DLQ")
        record = snap.settlements.get(tid)
        documents = snap.archive.get(tid, [])
        if status == "SETTLED":
            if record is None:
                result.violate(tid, "SETTLED without a settlement record")
            if len(documents) != 1:
                result.violate(tid, f"SETTLED with {len(documents)} archive entries")
            amounts = {Decimal(item["amount"])}
            if record is not None:
                amounts.add(Decimal(record["amount"]))
            amounts.update(Decimal(d["amount"]) for d in documents)
            if len(amounts) != 1:
                result.violate(tid, f"amounts differ: {sorted(map(str, amounts))}")
            currency = item["currency"]
            sums[currency]["transactions"] += Decimal(item["amount"])
            if record is not None:
                sums[currency]["settlements"] += Decimal(record["amount"])
            for document in documents:
                sums[currency]["archive"] += Decimal(document["amount"])
        elif record is not None or documents:
            result.violate(tid, f"{status} with a settlement record or an archive entry")
        rows = snap.rows.get(tid, [])
        keys = {str(row["sk"]) for row in rows}
        missing = TRAILS.get(status, set()) - keys
        if status == "FAILED" and not any(k.startswith("settlement#failed") for k in keys):
            missing.add("settlement#failed")
        if missing:
            result.violate(tid, f"{status}: audit trail lacks {sorted(missing)}")
        actions = Counter(str(row["action"]) for row in rows)
        for action in ONCE:
            if actions[action] > 1:
                result.violate(tid, f"{actions[action]} {action} rows")
        if actions["payment.settled"] and actions["payment.declined"]:
            result.violate(tid, "both settled and declined rows")

    row_actions = Counter(str(row["action"]) for rows in snap.rows.values() for row in rows)
    for action in sorted(set(row_actions) | set(snap.counters)):
        if row_actions[action] != snap.counters[action]:
            result.violate(
                "-",
                f"counter {action} is {snap.counters[action]}, the table holds {row_actions[action]} rows",
            )

    add = result.table.append
    add(("payments accepted by the API", str(len(set(accepted))), "", ""))
    add(("transaction items", str(len(snap.transactions)), "", ""))
    for status in TERMINAL:
        add((f"  {status}", str(statuses[status]), "", ""))

    def in_dlq(*wanted: str) -> int:
        return sum(1 for t in snap.dlq if str(snap.transactions.get(t, {}).get("status")) in wanted)

    add(("  FAILED and in the DLQ", str(in_dlq("FAILED")), "", ""))
    add(("DLQ messages of payments already done", str(in_dlq("SETTLED", "DECLINED")), "not replayed", ""))
    add(("settlement records", str(len(snap.settlements)), "", ""))
    add(("archive entries (object versions)", str(sum(len(v) for v in snap.archive.values())), "", ""))
    for action in sorted(row_actions):
        add((f"audit rows {action}", str(row_actions[action]), f"counter {snap.counters[action]}", ""))
    for currency in sorted(sums):
        totals = sums[currency]
        add(
            (
                f"settled {currency}",
                str(totals["transactions"]),
                f"settlements {totals['settlements']}",
                f"archive {totals['archive']}",
            )
        )
        if len({totals["transactions"], totals["settlements"], totals["archive"]}) != 1:
            result.violate("-", f"settled sums in {currency} differ: {dict(totals)}")
    return result


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
    """The counters follow the audit rows through the table's stream: run it until it is empty."""
    mark = time.monotonic()
    while time.monotonic() < deadline:
        if not sum(poller.poll_once().invoked for poller in stack.stream_pollers()):
            break
    return time.monotonic() - mark


def run(
    seed: int,
    count: int,
    rate: float,
    timeout: float,
    console: Console,
    retry_wait_scale: float = 1.0,
    lambda_mode: LambdaMode = "inline",
) -> ChaosResult:
    import boto3

    from payctl.local.local_stack import LocalStack

    started = time.monotonic()
    phases: dict[str, float] = {}
    payments = chaos_payments(count, seed)
    problems: list[tuple[str, str]] = []
    replayed = 0
    with LocalStack(
        ROOT / "template.yaml",
        CHAOS_PARAMETERS,
        api_port=0,
        moto_port=0,
        failed_visibility_seconds=FAILED_VISIBILITY_SECONDS,
        lambda_mode=lambda_mode,
    ) as local:
        set_retry_wait_scale(retry_wait_scale)
        stack = local.stack
        outputs = local.outputs
        names = {logical_id: stack.function_name(logical_id) for logical_id in FUNCTIONS}
        queue_name = outputs["PaymentsQueueUrl"].rsplit("/", 1)[-1]
        plan = faults.use(fault_plan(seed, rate, names, queue_name))
        clients = {name: boto3.client(name, region_name=local.region) for name in ("sqs", "dynamodb", "s3")}
        # The operator's path: the DLQ tools over the moto server, as another process reaches it.
        dlq = Dlq(
            Connection(region=local.region, outputs=outputs, endpoint_url=local.moto_endpoint, local=True)
        )
        phases["start"] = time.monotonic() - started
        console.print(
            f"stack up in {phases['start']:.1f}s; submitting {count} payments (seed {seed}, rate {rate:.0%})"
        )

        deadline = time.monotonic() + timeout
        client = ApiClient(local.api_url, local.api_key_value())
        mark = time.monotonic()
        accepted = submit(client, payments, deadline)
        phases["submit"] = time.monotonic() - mark
        if len(accepted) < len(payments):
            problems.append(("-", f"the API never accepted {len(payments) - len(accepted)} payments"))
        try:
            phases["drain"] = drain(clients["sqs"], outputs["PaymentsQueueUrl"], deadline, console, "drain")
            plan.lift()
            mark = time.monotonic()
            report = dlq.replay(Selection(), operator="chaos")
            replayed = len(report.moved)
            console.print(
                f"faults lifted; replayed {replayed} DLQ messages ({len(report.failed)} failed, "
                f"{len(report.complete)} already complete left in the DLQ)"
            )
            phases["replay"] = time.monotonic() - mark
            phases["drain after replay"] = drain(
                clients["sqs"], outputs["PaymentsQueueUrl"], deadline, console, "drain after replay"
            )
        except DrainTimeout as exc:
            plan.lift()
            console.print(f"[red]{exc}[/]")
            problems.append(("-", str(exc)))
        phases["count"] = count_audit_stream(stack, deadline)
        mark = time.monotonic()
        conservation = check(snapshot(clients, outputs, dlq), accepted.values())
        conservation.violations[:0] = problems
        phases["check"] = time.monotonic() - mark
        result = ChaosResult(
            seed=seed,
            payments=count,
            rate=rate,
            accepted=len(set(accepted.values())),
            replayed=replayed,
            retry_wait_scale=retry_wait_scale,
            conservation=conservation,
            fired=plan.fired_counts(),
            calls=Counter(plan.calls),
            invocations=Counter(plan.invocations),
            wall_seconds=time.monotonic() - started,
            phases=phases,
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
