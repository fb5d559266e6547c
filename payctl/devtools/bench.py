"""``make bench-local``: end-to-end throughput and latency of the local stack, with and without speed-ups.

Each configuration runs in its own process (one moto per process), one after the other, in the
same invocation, on the same machine:

1. start the local stack (the real template, handlers and ASL on moto), pollers on, no moto server;
2. POST N valid payments to /payments/batch over HTTP in chunks of 500, noting when each chunk was sent;
3. wait until the payments queue holds nothing, visible or in flight (one GetQueueAttributes
   twice a second: scanning the transactions table instead would itself eat a fifth of the CPU
   the pipeline runs on), then read every payment's status: all must be terminal. Counters are
   not waited on: one that a fault made diverge would keep the wait going forever. After the
   deadline the run stops with what is still open and a non-zero exit;
4. latency of a payment = its item's ``updated_at`` (written by the settlement step) minus the
   moment its chunk was sent; throughput = N / (last ``updated_at`` - first send);
5. CPU per payment = the process's CPU time (all threads, user + system) from the first send to
   the last poll, divided by N; "cores busy" is that CPU time over the same wall time. The whole
   local stack runs in this one process, so a figure near 1.0 means it is bound by one core.

Stock moto is slow enough that the run without speed-ups uses fewer payments (``--baseline-count``);
payments/s is comparable across sizes because the pipeline is saturated from the first batch on.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from payctl.local.measure import TERMINAL_STATUSES, NotDone, percentile, timestamp, wait_until_done
from payctl.tools.api_client import ApiClient
from payctl.tools.submitter.send import submit_payments

ROOT = Path(__file__).resolve().parents[2]


def bench_payments(count: int, run: str) -> list[dict[str, Any]]:
    """Valid payments from distinct customers (so velocity rules stay quiet), in four currencies."""
    currencies = [("USD", "42.10"), ("EUR", "19.99"), ("GBP", "7.35"), ("JPY", "4300")]
    payments = []
    for i in range(count):
        currency, amount = currencies[i % len(currencies)]
        payments.append(
            {
                "idempotency_key": f"bench-{run}-{i:06d}",
                "merchant_id": f"m_bench{i % 10}",
                "amount": amount,
                "currency": currency,
                "payment_method": {
                    "type": "card",
                    "token": f"tok_bench_{i:06d}",
                    "last4": "4242",
                    "brand": "visa",
                    "country": "US",
                },
                "customer": {"id": f"c_bench_{run}_{i:06d}", "country": "US"},
                "reference": f"bench-{i}",
            }
        )
    return payments


def _scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=table,
        ProjectionExpression="transaction_id, #s, updated_at",
        ExpressionAttributeNames={"#s": "status"},
    ):
        items.extend(page["Items"])
    return items


MODES = {
    # name: (speed-ups, where handlers run)
    "process": (True, "process"),
    "inline": (True, "inline"),
    "stock": (False, "process"),
}


def _cpu_seconds() -> float:
    """This process's CPU time plus that of every Lambda execution environment it started."""
    from payctl.runtime import _state

    environments = _state.current().environments
    return time.process_time() + (environments.cpu_seconds() if environments is not None else 0.0)


def _function_times(local: Any) -> dict[str, dict[str, Any]]:
    """Cold starts (init) and warm invocations per function, from the environments' REPORT lines."""
    from payctl.runtime import _state

    environments = _state.current().environments
    if environments is None:
        return {}
    names = {info.name: logical_id for logical_id, info in local.stack.functions.items()}
    times = {}
    for name, stats in environments.stats.items():
        if not stats.duration_ms:
            continue
        times[names.get(name, name)] = {
            "cold_starts": stats.cold_starts,
            "init_ms_p50": round(statistics.median(stats.init_ms), 1) if stats.init_ms else None,
            "invocations": stats.invocations,
            "duration_ms_p50": round(statistics.median(stats.duration_ms), 1),
            "duration_ms_p95": round(percentile(stats.duration_ms, 0.95), 1),
        }
    return times


def _send(client: ApiClient, payments: list[dict[str, Any]]) -> dict[str, float]:
    """POST the payments in chunks of 500; when each transaction's chunk was sent."""
    sent_at: dict[str, float] = {}
    for offset in range(0, len(payments), 500):
        chunk = payments[offset : offset + 500]
        chunk_sent = time.time()
        summary = submit_payments(client, chunk)
        # A chunk retried after a slow answer replays what its first attempt accepted.
        if summary.accepted + summary.replayed != len(chunk):
            raise SystemExit(f"the API did not accept every payment: {summary.failure or summary}")
        for result in summary.results:
            sent_at[result["transaction_id"]] = chunk_sent
    return sent_at


def _outcomes(
    dynamodb: Any, table: str, sent_at: dict[str, float], started: float
) -> tuple[dict[str, int], list[float], float]:
    """Terminal payments by status, each one's latency, and when the last one ended."""
    statuses: dict[str, int] = {}
    latencies = []
    finished = started
    for item in _scan(dynamodb, table):
        status = item.get("status", {}).get("S")
        if status not in TERMINAL_STATUSES:
            continue
        statuses[status] = statuses.get(status, 0) + 1
        ended = timestamp(item["updated_at"]["S"])
        finished = max(finished, ended)
        latencies.append(ended - sent_at[item["transaction_id"]["S"]])
    return statuses, latencies, finished


def run_one(
    count: int, mode: str, timeout: float, parameters: dict[str, str] | None = None
) -> dict[str, Any]:
    import boto3

    from payctl.local.local_stack import LocalStack

    speedups, lambda_mode = MODES[mode]
    with LocalStack(
        ROOT / "template.yaml",
        parameters,
        api_port=0,
        serve_moto=False,
        speedups=speedups,
        lambda_mode=lambda_mode,  # type: ignore[arg-type]
    ) as local:
        dynamodb = boto3.client("dynamodb", region_name=local.region)
        table = local.outputs["TransactionsTableName"]
        started = time.time()
        cpu_started = _cpu_seconds()
        sent_at = _send(ApiClient(local.api_url, local.api_key_value()), bench_payments(count, mode))
        deadline = time.monotonic() + timeout - (time.time() - started)
        sqs = boto3.client("sqs", region_name=local.region)
        try:
            wait_until_done(sqs, local.outputs["PaymentsQueueUrl"], dynamodb, table, sent_at, deadline)
        except NotDone as exc:
            raise SystemExit(f"not finished after {timeout:.0f}s: {exc}") from None
        cpu_seconds = _cpu_seconds() - cpu_started
        polled_until = time.time()
        statuses, latencies, finished = _outcomes(dynamodb, table, sent_at, started)
        functions = _function_times(local)
    elapsed = finished - started
    return {
        "mode": mode,
        "speedups": speedups,
        "payments": count,
        "elapsed_s": round(elapsed, 2),
        "payments_per_s": round(count / elapsed, 2),
        "p50_s": round(statistics.median(latencies), 2),
        "p95_s": round(percentile(latencies, 0.95), 2),
        "cpu_ms_per_payment": round(1000 * cpu_seconds / count, 1),
        "cores_busy": round(cpu_seconds / (polled_until - started), 2),
        "statuses": statuses,
        "functions": functions,
        "python": sys.version.split()[0],
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _run_modes(modes: list[str], args: argparse.Namespace) -> list[dict[str, Any]] | int:
    """Each mode in a process of its own; their results, or the exit code of the first that failed."""
    results = []
    for mode in modes:
        command = [sys.executable, "-m", "payctl.devtools.bench", "--one", mode, "--count", str(args.count)]
        command += ["--baseline-count", str(args.baseline_count), "--timeout", str(args.timeout)]
        print(f"running {mode} ...", flush=True)
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
        if done.returncode != 0:
            sys.stderr.write(done.stderr[-4000:])
            return done.returncode
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return results


def _results_table(results: list[dict[str, Any]]) -> Table:
    table = Table(title="Local pipeline: submit -> terminal, end to end over HTTP")
    for column in (
        "Lambda",
        "speed-ups",
        "payments",
        "elapsed s",
        "payments/s",
        "p50 s",
        "p95 s",
        "CPU ms/payment",
        "cores busy",
        "outcomes",
    ):
        table.add_column(column, justify="right")
    for r in results:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r["statuses"].items()))
        table.add_row(
            MODES[r["mode"]][1],
            "on" if r["speedups"] else "off",
            str(r["payments"]),
            f"{r['elapsed_s']:.2f}",
            f"{r['payments_per_s']:.2f}",
            f"{r['p50_s']:.2f}",
            f"{r['p95_s']:.2f}",
            f"{r['cpu_ms_per_payment']:.1f}",
            f"{r['cores_busy']:.2f}",
            outcomes,
        )
    return table


def _functions_table(result: dict[str, Any]) -> Table:
    per_function = Table(title=f"Lambda execution environments ({result['mode']} run)")
    for column in ("function", "cold starts", "init p50 ms", "invocations", "p50 ms", "p95 ms"):
        per_function.add_column(column, justify="right")
    for name, t in sorted(result["functions"].items()):
        per_function.add_row(
            name,
            str(t["cold_starts"]),
            str(t["init_ms_p50"]),
            str(t["invocations"]),
            str(t["duration_ms_p50"]),
            str(t["duration_ms_p95"]),
        )
    return per_function


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local end-to-end throughput, with and without speed-ups.")
    parser.add_argument("--count", type=int, default=1000, help="payments with speed-ups (default 1000)")
    parser.add_argument(
        "--baseline-count", type=int, default=100, help="payments on stock moto (default 100)"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the run without speed-ups")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument(
        "--modes",
        default="process,inline",
        help="comma-separated runs: process (Lambda execution environments, one process each), "
        "inline (every handler in the stack's process), stock (process, without the speed-ups)",
    )
    parser.add_argument("--one", choices=sorted(MODES), help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    if args.one:
        count = args.count if MODES[args.one][0] else args.baseline_count
        print(json.dumps(run_one(count, args.one, args.timeout)))
        return 0

    modes = [mode for mode in args.modes.split(",") if mode]
    if not args.no_baseline and "stock" not in modes:
        modes.append("stock")
    results = _run_modes(modes, args)
    if isinstance(results, int):
        return results
    console = Console()
    # Piped or captured output gets 80 columns by default, which would wrap every row.
    out = console if console.is_terminal else Console(width=130)
    out.print(_results_table(results))
    for r in results:
        if r.get("functions"):
            out.print(_functions_table(r))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
