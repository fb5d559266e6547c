"""``make cost``: dollars per million payments, priced from the requests a local run really makes.

Each path runs on a fresh local stack (the real template, handlers and ASL on moto) with the
runtime's meter (``payctl.runtime.metering``) counting every request where moto dispatches it:

- **batch**: one ``POST /payments/batch`` of ``--batch`` payments;
- **single**: ``--single`` ``POST /payments``, one payment each.

The queue is then drained by the stack's own event source pollers, one receive -> invoke ->
delete cycle at a time, so every batch holds ``BatchSize`` records and the counts are the same
on every run. The audit stream's event source is drained the same way, when the template has one.

What is counted, and how it is priced (``PRICES``, us-east-1 list prices from the handbook):

- API Gateway: the HTTP requests sent.
- Lambda: invocations, and billed duration (wall time of each ``Invoke``, rounded up to 1 ms)
  times the function's memory from the template. Local durations come from moto and are much
  slower than AWS, so the duration line is an upper bound. It is reported, not asserted.
- Step Functions Express: ``StartSyncExecution`` requests, and duration rounded up to 100 ms at
  64 MB. The seed's design is priced on its state transitions instead, one per state entered.
- DynamoDB: write and read units from the real item sizes before and after each write, with
  global indexes, doubled for transactions (see the meter's docstring).
- SQS: requests, each 64 KB of payload counted as one. S3: PUT and GET requests.
- CloudWatch Logs, in bytes ingested:
  - Lambda: what the handlers print at the template's default ``LogLevel`` (Powertools logs
    and EMF metrics, captured from stdout), plus the platform's START/END/REPORT lines of each
    invocation when the template's ``SystemLogLevel`` admits INFO (the seed's design always).
  - Express: one event per history event the execution recorded, at the template's logging
    ``Level``. ALL logs every event, ERROR the failures, FATAL only a failed execution. Each
    event is the JSON Step Functions writes with ``IncludeExecutionData: false``: its type and
    ids, the execution ARN, and the event's details without input and output.
- X-Ray: one trace per API request, recorded at the default sampling rule's 5%.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from payctl.devtools.cost_run import CountingStream, PathRun, run_path

ROOT = Path(__file__).resolve().parents[2]
MILLION = 1_000_000
GIB = 1024**3

# One table of list prices (us-east-1), USD.
PRICES: dict[str, float] = {
    "apigateway_rest_request": 3.50 / MILLION,
    "sqs_request_64k": 0.40 / MILLION,
    "lambda_request": 0.20 / MILLION,
    "lambda_gb_s_arm64": 0.0000133334,
    "lambda_gb_s_x86": 0.0000166667,
    "express_request": 1.00 / MILLION,
    "express_gb_s": 0.00001667,
    "standard_transition": 0.025 / 1000,
    "dynamodb_wru": 0.625 / MILLION,
    "dynamodb_rru": 0.125 / MILLION,
    "s3_put": 0.005 / 1000,
    "s3_get": 0.0004 / 1000,
    "cloudwatch_logs_gb": 0.50,
    "xray_trace": 5.00 / MILLION,
}
# The local API front reads the usage plans and keys through the API Gateway API to check each
# request's key, as API Gateway does internally; no function calls it.
_RUNTIME_SERVICES = frozenset({"apigateway"})
EXPRESS_BILLED_MB = 64
EXPRESS_MIN_MS = 100
XRAY_SAMPLED = 0.05
# Express: the events each logging level writes (Step Functions' log levels).
_FATAL_EVENTS = frozenset({"ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"})
_ERROR_SUFFIXES = ("Failed", "TimedOut", "Aborted")
# What Lambda writes per invocation around the function's own output (text log format).
_PLATFORM_LINES = (
    "START RequestId: 8f5c0b7e-2d6a-4c1e-9a57-3b0e2f6d1c44 Version: $LATEST\n"
    "END RequestId: 8f5c0b7e-2d6a-4c1e-9a57-3b0e2f6d1c44\n"
    "REPORT RequestId: 8f5c0b7e-2d6a-4c1e-9a57-3b0e2f6d1c44\tDuration: 41.27 ms\tBilled Duration: 42 ms\t"
    "Memory Size: 512 MB\tMax Memory Used: 96 MB\t\n"
    "XRAY TraceId: 1-674c1a2b-5f3e2d1c0b9a887766554433\tSegmentId: 4a3b2c1d0e9f8a7b\tSampled: true\t\n"
)
_EXPRESS_ARN = (
    "arn:aws:states:us-east-1:123456789012:express:payments-prod-main-workflow:"
    "6f1c2e4a-8b3d-5f7e-9a1b-2c3d4e5f6a7b-1:0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e"
)


def express_event_bytes(event_type: str, detail_bytes: int, event_id: int = 12) -> int:
    """One Express log event as CloudWatch stores it, with ``detail_bytes`` of details."""
    envelope = {
        "id": str(event_id),
        "type": event_type,
        "details": {},
        "previous_event_id": str(event_id - 1),
        "event_timestamp": "1733043000123",
        "execution_arn": _EXPRESS_ARN,
        "redrive_count": "0",
    }
    return len(json.dumps(envelope, separators=(",", ":"))) - 2 + detail_bytes + 1


def logged_at(level: str, event_type: str) -> bool:
    if level == "ALL":
        return True
    if level == "ERROR":
        return event_type.endswith(_ERROR_SUFFIXES)
    if level == "FATAL":
        return event_type in _FATAL_EVENTS
    return False


# ------------------------------------------------------------------------------------ template


@dataclass(frozen=True)
class TemplateFacts:
    memory_mb: dict[str, int]
    architecture: dict[str, str]
    express_log_level: str
    express_logs_execution_data: bool
    # Lambda's SystemLogLevel: the platform's START/END/REPORT lines are INFO.
    system_log_level: str = "INFO"

    @property
    def platform_lines_logged(self) -> bool:
        return self.system_log_level in ("TRACE", "DEBUG", "INFO")


def template_facts(path: Path) -> TemplateFacts:
    from payctl.runtime.cfn_yaml import load_template

    template = load_template(path)
    defaults = template.get("Globals", {}).get("Function", {})
    memory: dict[str, int] = {}
    architecture: dict[str, str] = {}
    level, with_data = "OFF", False
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            memory[logical_id] = int(properties.get("MemorySize", defaults.get("MemorySize", 128)))
            architecture[logical_id] = (properties.get("Architectures") or defaults.get("Architectures"))[0]
        elif resource["Type"] == "AWS::Serverless::StateMachine":
            logging_config = properties.get("Logging") or {}
            level = str(logging_config.get("Level", "OFF"))
            with_data = bool(logging_config.get("IncludeExecutionData", False))
    system_level = str((defaults.get("LoggingConfig") or {}).get("SystemLogLevel", "INFO"))
    return TemplateFacts(memory, architecture, level, with_data, system_level)


# ------------------------------------------------------------------------------------ pricing


@dataclass
class Bill:
    """Dollars per 1M payments by line, and the counts behind them (per payment)."""

    dollars: dict[str, float]
    requests_per_payment: float
    api_requests_per_payment: float
    wru_per_payment: float
    rru_per_payment: float
    log_bytes_per_payment: float
    express_log_bytes_per_payment: float
    requests: dict[str, float]
    wru: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.dollars.values())


def price(run: PathRun, facts: TemplateFacts, *, seed: bool = False) -> Bill:
    """Per 1M payments. ``seed``: Standard workflow instead of Express, and x86 Lambda."""
    usage = run.usage
    n = run.payments
    scale = MILLION / n
    invocations = sum(usage.invocations.values())
    wru = sum(usage.wru.values())
    rru = sum(usage.rru.values())
    express_bytes = _express_log_bytes(run, facts, seed=seed)
    # The seed's design wrote text logs, with the platform's lines.
    platform_bytes = len(_PLATFORM_LINES.encode()) if seed or facts.platform_lines_logged else 0
    log_bytes = express_bytes + run.handler_log_bytes + invocations * platform_bytes
    dollars = {
        "API Gateway": run.api_requests * PRICES["apigateway_rest_request"],
        "Lambda requests": invocations * PRICES["lambda_request"],
        "Lambda duration": _lambda_gb_s(run, facts)
        * (PRICES["lambda_gb_s_x86"] if seed else PRICES["lambda_gb_s_arm64"]),
        "Step Functions": _step_functions_dollars(run, seed=seed),
        "SQS": sum(c for (service, _), c in usage.chunks_64k.items() if service == "sqs")
        * PRICES["sqs_request_64k"],
        "DynamoDB writes": wru * PRICES["dynamodb_wru"],
        "DynamoDB reads": rru * PRICES["dynamodb_rru"],
        "S3": _s3_dollars(run),
        "CloudWatch Logs": log_bytes / GIB * PRICES["cloudwatch_logs_gb"],
        "X-Ray": run.api_requests * XRAY_SAMPLED * PRICES["xray_trace"],
    }
    billable = {key: count for key, count in usage.requests.items() if key[0] not in _RUNTIME_SERVICES}
    api_side = sum(
        count
        for (service, operation), count in run.api_usage.requests.items()
        if service not in _RUNTIME_SERVICES and not (service == "lambda" and operation == "Invoke")
    )
    by_operation: Counter[str] = Counter()
    for (service, operation), count in billable.items():
        by_operation[f"{service} {operation}"] += count
    return Bill(
        dollars={line: amount * scale for line, amount in dollars.items()},
        requests_per_payment=sum(billable.values()) / n,
        api_requests_per_payment=api_side / n,
        wru_per_payment=wru / n,
        rru_per_payment=rru / n,
        log_bytes_per_payment=log_bytes / n,
        express_log_bytes_per_payment=express_bytes / n,
        requests={k: v / n for k, v in sorted(by_operation.items())},
        wru={k: v / n for k, v in sorted(_wru_by_table(run).items())},
    )


def _lambda_gb_s(run: PathRun, facts: TemplateFacts) -> float:
    gb_s = 0.0
    for function, durations in run.usage.invoke_ms.items():
        logical_id = run.function_ids.get(function, function)
        memory = facts.memory_mb.get(logical_id, 128)
        gb_s += sum(math.ceil(ms) for ms in durations) / 1000 * memory / 1024
    return gb_s


def _step_functions_dollars(run: PathRun, *, seed: bool) -> float:
    usage = run.usage
    if seed:
        transitions = sum(c for t, c in usage.history_events.items() if t.endswith("StateEntered"))
        return transitions * PRICES["standard_transition"]
    express_gb_s = sum(
        max(EXPRESS_MIN_MS, math.ceil(ms / 100) * 100) / 1000 * EXPRESS_BILLED_MB / 1024
        for ms in usage.express_ms
    )
    return len(usage.express_ms) * PRICES["express_request"] + express_gb_s * PRICES["express_gb_s"]


def _s3_dollars(run: PathRun) -> float:
    requests = run.usage.requests
    puts = sum(c for (s, op), c in requests.items() if s == "s3" and op in ("PutObject", "PUT bucket"))
    gets = sum(c for (s, op), c in requests.items() if s == "s3" and op in ("GetObject", "HeadObject"))
    return puts * PRICES["s3_put"] + gets * PRICES["s3_get"]


def _express_log_bytes(run: PathRun, facts: TemplateFacts, *, seed: bool) -> int:
    usage = run.usage
    express_bytes = 0
    if not seed or facts.express_log_level != "OFF":
        for event_type, count in usage.history_events.items():
            if logged_at(facts.express_log_level, event_type):
                average = usage.history_detail_bytes[event_type] / count
                express_bytes += count * express_event_bytes(event_type, round(average))
    return express_bytes


def _wru_by_table(run: PathRun) -> dict[str, float]:
    wru_by: dict[str, float] = {}
    for (table, where), units in run.usage.wru.items():
        short = table.rsplit("-", 1)[-1]
        label = short if where == "table" else f"{short} index {where}"
        wru_by[label] = wru_by.get(label, 0) + units
    return wru_by


def durations(run: PathRun) -> dict[str, float]:
    """Mean wall time per invocation (ms) of each function, and of the Express executions."""
    means = {
        run.function_ids.get(name, name): sum(values) / len(values)
        for name, values in sorted(run.usage.invoke_ms.items())
        if values
    }
    if run.usage.express_ms:
        means["Express execution"] = sum(run.usage.express_ms) / len(run.usage.express_ms)
    return means


# ------------------------------------------------------------------------------------ output


def summary(bills: dict[str, Bill], runs: dict[str, PathRun]) -> dict[str, Any]:
    return {
        name: {
            "payments": runs["single" if name == "seed" else name].payments,
            "dollars_per_million": round(bill.total, 2),
            "dollars_by_line": {k: round(v, 4) for k, v in bill.dollars.items()},
            "requests_per_payment": round(bill.requests_per_payment, 4),
            "api_requests_per_payment": round(bill.api_requests_per_payment, 4),
            "wru_per_payment": round(bill.wru_per_payment, 4),
            "rru_per_payment": round(bill.rru_per_payment, 4),
            "log_bytes_per_payment": round(bill.log_bytes_per_payment, 1),
            "express_log_bytes_per_payment": round(bill.express_log_bytes_per_payment, 1),
            "requests_by_operation": {k: round(v, 4) for k, v in bill.requests.items()},
            "wru_by_table": {k: round(v, 4) for k, v in bill.wru.items()},
            "mean_ms": {
                k: round(v, 1) for k, v in durations(runs["single" if name == "seed" else name]).items()
            },
        }
        for name, bill in bills.items()
    }


def print_tables(result: dict[str, Any], facts: TemplateFacts) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console() if sys.stdout.isatty() else Console(width=140)
    names = list(result)
    titles = {"batch": "batch", "single": "single", "seed": "seed's design"}
    money = Table(title="$ per 1M payments, from counted requests (us-east-1 list prices)")
    money.add_column("line")
    for name in names:
        money.add_column(f"{titles[name]} ({result[name]['payments']})", justify="right")
    lines = list(result["batch"]["dollars_by_line"])
    for line in lines:
        money.add_row(line, *(f"{result[n]['dollars_by_line'].get(line, 0):.2f}" for n in names))
    money.add_row("total", *(f"[bold]{result[n]['dollars_per_million']:.2f}[/bold]" for n in names))
    for label, field_name, fmt in (
        ("AWS requests / payment", "requests_per_payment", "{:.2f}"),
        ("API-side requests / payment", "api_requests_per_payment", "{:.3f}"),
        ("DynamoDB WRU / payment", "wru_per_payment", "{:.2f}"),
        ("DynamoDB RRU / payment", "rru_per_payment", "{:.2f}"),
        ("log bytes / payment", "log_bytes_per_payment", "{:.0f}"),
        ("  of which Express", "express_log_bytes_per_payment", "{:.0f}"),
    ):
        money.add_row(label, *(fmt.format(result[n][field_name]) for n in names))
    console.print(money)
    console.print(
        f"Express logging: level {facts.express_log_level}, execution data "
        f"{'included' if facts.express_logs_execution_data else 'excluded'}. "
        f"Lambda system logs at {facts.system_log_level}. "
        "The seed's design: Standard workflow, x86, one API call per payment (the single path's counts)."
    )

    detail = Table(title="Per payment, batch path")
    detail.add_column("requests by operation")
    detail.add_column("per payment", justify="right")
    for operation, value in result["batch"]["requests_by_operation"].items():
        detail.add_row(operation, f"{value:.3f}")
    console.print(detail)
    wru = Table(title="DynamoDB WRU per payment, batch path")
    wru.add_column("table / index")
    wru.add_column("WRU", justify="right")
    for where, value in result["batch"]["wru_by_table"].items():
        wru.add_row(where, f"{value:.2f}")
    console.print(wru)
    timing = Table(title="Mean local wall time per invocation, ms (moto; reported, not asserted)")
    timing.add_column("function")
    for name in ("batch", "single"):
        timing.add_column(name, justify="right")
    functions = sorted(set(result["batch"]["mean_ms"]) | set(result["single"]["mean_ms"]))
    for function in functions:
        timing.add_row(
            function, *(f"{result[n]['mean_ms'].get(function, 0):.1f}" for n in ("batch", "single"))
        )
    console.print(timing)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Dollars per million payments from counted requests.")
    parser.add_argument("--batch", type=int, default=200, help="payments in the one batch POST (default 200)")
    parser.add_argument("--single", type=int, default=50, help="single POSTs (default 50)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if not 1 <= args.batch <= 500 or args.single < 1:
        parser.error("--batch is 1..500 and --single at least 1")

    facts = template_facts(ROOT / "template.yaml")
    stream = CountingStream()
    real_stdout = sys.stdout
    started = time.monotonic()
    sys.stdout = stream
    try:
        runs = {
            "batch": run_path("batch", args.batch, single=False, stream=stream),
            "single": run_path("single", args.single, single=True, stream=stream),
        }
    finally:
        sys.stdout = real_stdout
    bills = {
        "batch": price(runs["batch"], facts),
        "single": price(runs["single"], facts),
        "seed": price(runs["single"], facts, seed=True),
    }
    result = summary(bills, runs)
    print_tables(result, facts)
    print(f"({time.monotonic() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
