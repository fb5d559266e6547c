"""``make demo``: the whole pipeline, locally, on the sample batch — then what happened to every payment.

1. Starts the local stack in this process: the real ``template.yaml`` deployed on moto, the API
   front on a free port, the SQS pollers, the Express workflow.
2. Sends ``examples/poison_message.json`` straight to the payments queue, as a broken producer
   would: no consumer can parse it, so it is retried and lands in the DLQ after 5 receives.
3. POSTs ``examples/sample_batch.json`` to ``/payments/batch`` over HTTP.
4. Shows progress until every accepted payment is SETTLED, DECLINED or FAILED (read from the
   transactions table), the payments queue is empty and the poison message is in the DLQ, then
   prints the outcome. After ``--timeout`` it stops with what is open and exits 1.

The local queue's visibility timeout is shortened after deploy (the template keeps it at
least 60 s, 6 x the consumer's timeout, as AWS advises) so the poison message's five receives
take seconds instead of the deployed 15 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from payctl.local.measure import (
    TERMINAL_STATUSES,
    archive_entries,
    counters_over,
    percentile,
    statuses_of,
    timestamp,
)
from payctl.local.pollers import LONG_POLL_SECONDS
from payctl.tools.api_client import ApiClient
from payctl.tools.operator.queues import queue_depth
from payctl.tools.submitter.send import ListSummary, submit_payments

if TYPE_CHECKING:
    from payctl.local.local_stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DEMO_PARAMETERS = {"EnvironmentSuffix": "demo", "ConsumerMaxConcurrency": "2"}
DEMO_VISIBILITY_SECONDS = 4


def _transactions(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        items.extend({k: deserializer.deserialize(v) for k, v in item.items()} for item in page["Items"])
    return items


@dataclass(frozen=True)
class Submitted:
    """What the API answered for the batch, and when."""

    summary: ListSummary
    started: float
    finished: float

    @property
    def accepted_ids(self) -> set[str]:
        return {r["transaction_id"] for r in self.summary.results if r["status"] in ("accepted", "replayed")}


@dataclass(frozen=True)
class Outcome:
    """Every accepted payment's end, read from the tables, the DLQ and the archive."""

    statuses: Counter[str]
    reasons: Counter[str]
    latencies: list[float]
    dlq_depth: int
    audit_rows: int
    archived: tuple[int, int]  # objects, settled payments in them


def _send_poison(sqs: Any, queue_url: str, poison: Any) -> None:
    sqs.set_queue_attributes(
        QueueUrl=queue_url, Attributes={"VisibilityTimeout": str(DEMO_VISIBILITY_SECONDS)}
    )
    # A long poll that started before the change would hand out a message with the old timeout.
    time.sleep(LONG_POLL_SECONDS + 0.2)
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(poison))


def _submit(client: ApiClient, payments: list[Any], console: Console) -> Submitted | None:
    started = time.time()
    summary = submit_payments(client, payments)
    submitted = Submitted(summary, started, time.time())
    if summary.not_sent:
        console.print(f"[red]{summary.not_sent} items were not sent:[/] {summary.failure}")
        return None
    console.print(
        f"submitted {len(payments)} items: {summary.accepted} accepted, "
        f"{summary.replayed} replayed (same key and body as an earlier item), "
        f"{summary.rejected} rejected by the API; "
        f"{len(submitted.accepted_ids)} distinct payments to process"
    )
    return submitted


def _wait_until_settled(
    sqs: Any, dynamodb: Any, outputs: dict[str, str], submitted: Submitted, timeout: float, console: Console
) -> set[str] | None:
    """Follow the payments until each is terminal, the queue is empty and the poison message is in
    the DLQ; the UTC days the run touched, or None after the timeout."""
    accepted_ids = submitted.accepted_ids
    deadline = submitted.started + timeout
    days = {datetime.now(UTC).date().isoformat()}
    seen: dict[str, str] = {}
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("settling", total=len(accepted_ids), detail="")
        while True:
            days.add(datetime.now(UTC).date().isoformat())
            # The truth, not the audit counters: each payment's status, and the queues.
            open_ids = [tid for tid in accepted_ids if seen.get(tid) not in TERMINAL_STATUSES]
            seen.update(statuses_of(dynamodb, outputs["TransactionsTableName"], open_ids))
            counts = Counter(status for status in seen.values() if status in TERMINAL_STATUSES)
            queued = queue_depth(sqs, outputs["PaymentsQueueUrl"]).total
            dlq = queue_depth(sqs, outputs["PaymentsDLQUrl"]).total
            done = sum(counts.values())
            detail = ", ".join(f"{k.lower()} {counts[k]}" for k in sorted(TERMINAL_STATUSES))
            detail += f", queued {queued}, DLQ {dlq}"
            progress.update(task, completed=min(done, len(accepted_ids)), detail=detail)
            if done >= len(accepted_ids) and queued == 0 and dlq >= 1:
                return days
            if time.time() > deadline:
                console.print(f"[red]not finished after {timeout:.0f}s[/]: {detail}")
                return None
            time.sleep(0.5)


def _outcome(local: LocalStack, sqs: Any, dynamodb: Any, submitted: Submitted, days: set[str]) -> Outcome:
    outputs = local.outputs
    accepted_ids = submitted.accepted_ids
    items = [
        i
        for i in _transactions(dynamodb, outputs["TransactionsTableName"])
        if i["transaction_id"] in accepted_ids
    ]
    return Outcome(
        statuses=Counter(item["status"] for item in items),
        reasons=Counter(
            r for item in items if item["status"] == "DECLINED" for r in item.get("decline_reasons", [])
        ),
        latencies=[
            timestamp(item["updated_at"]) - submitted.started
            for item in items
            if item["status"] in TERMINAL_STATUSES
        ],
        dlq_depth=queue_depth(sqs, outputs["PaymentsDLQUrl"]).total,
        audit_rows=sum(counters_over(dynamodb, outputs["AuditTableName"], days).values()),
        archived=archive_entries(
            boto3.client("s3", region_name=local.region),
            outputs["ArchiveBucketName"],
            expected=sum(1 for item in items if item["status"] == "SETTLED"),
            wait_seconds=10.0,
        ),
    )


def _outcome_table(title: str, payments: list[Any], submitted: Submitted, outcome: Outcome) -> Table:
    summary = submitted.summary
    api_rejections = Counter(
        (r.get("error") or {}).get("code", "unknown") for r in summary.results if r["status"] == "rejected"
    )
    statuses = outcome.statuses
    table = Table(title=title, show_lines=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("detail")
    table.add_row("items submitted", str(len(payments)), "")
    table.add_row(
        "rejected by the API", str(summary.rejected), ", ".join(f"{k} {v}" for k, v in api_rejections.items())
    )
    table.add_row(
        "replayed by the API", str(summary.replayed), "same Idempotency-Key, same body: first answer returned"
    )
    table.add_row("received (distinct payments)", str(len(submitted.accepted_ids)), "")
    table.add_row(
        "[green]settled",
        str(statuses.get("SETTLED", 0)),
        f"archived: {outcome.archived[1]} in {outcome.archived[0]} objects",
    )
    table.add_row(
        "[yellow]declined",
        str(statuses.get("DECLINED", 0)),
        ", ".join(f"{k} {v}" for k, v in outcome.reasons.most_common()),
    )
    table.add_row("[red]failed", str(statuses.get("FAILED", 0)), "technical failure, with an audit row")
    table.add_row("[magenta]in the DLQ", str(outcome.dlq_depth), "the poison message, after 5 receives")
    return table


def _print_timings(submitted: Submitted, outcome: Outcome, elapsed: float, console: Console) -> None:
    if outcome.latencies:
        console.print(
            f"submit -> terminal: p50 {statistics.median(outcome.latencies):.2f}s, "
            f"p95 {percentile(outcome.latencies, 0.95):.2f}s; whole run {elapsed:.1f}s "
            f"(submission took {submitted.finished - submitted.started:.1f}s)"
        )


def run(batch_file: Path, poison_file: Path, timeout: float, console: Console) -> int:
    from payctl.local.local_stack import LocalStack

    payments = json.loads(batch_file.read_text())["payments"]
    console.print(f"[bold]Starting the local stack[/] (template.yaml on moto, parameters {DEMO_PARAMETERS})")
    with LocalStack(ROOT / "template.yaml", DEMO_PARAMETERS, api_port=0, serve_moto=False) as local:
        outputs = local.outputs
        sqs = boto3.client("sqs", region_name=local.region)
        dynamodb = boto3.client("dynamodb", region_name=local.region)
        console.print(f"API {local.api_url}  (key id {local.api_key_id})")
        _send_poison(sqs, outputs["PaymentsQueueUrl"], json.loads(poison_file.read_text()))
        submitted = _submit(ApiClient(local.api_url, local.api_key_value()), payments, console)
        if submitted is None:
            return 1
        days = _wait_until_settled(sqs, dynamodb, outputs, submitted, timeout, console)
        if days is None:
            return 1
        elapsed = time.time() - submitted.started
        outcome = _outcome(local, sqs, dynamodb, submitted, days)

    console.print(
        _outcome_table(f"Outcome of {batch_file.name} (+1 poison message)", payments, submitted, outcome)
    )
    _print_timings(submitted, outcome, elapsed, console)
    console.print(
        f"archive: s3://{outputs['ArchiveBucketName']}/archive/yyyy/mm/dd/<shard>/<sequence>.jsonl, "
        "one settled payment per line\n"
        f"audit rows: DynamoDB table {outputs['AuditTableName']} ({outcome.audit_rows} rows; "
        f"GSI by_day_shard for dashboards, GET /audit with the dashboards' API key)\n"
        "The stack lived in this process and is gone; `make local-up` keeps one running."
    )
    unaccounted = len(submitted.accepted_ids) - sum(outcome.statuses.get(s, 0) for s in TERMINAL_STATUSES)
    return 0 if unaccounted == 0 and outcome.dlq_depth >= 1 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the pipeline locally on the sample batch.")
    parser.add_argument("--batch", type=Path, default=EXAMPLES / "sample_batch.json")
    parser.add_argument("--poison", type=Path, default=EXAMPLES / "poison_message.json")
    parser.add_argument("--timeout", type=float, default=110.0)
    parser.add_argument(
        "--lambda-log",
        type=Path,
        default=Path(".payctl") / "demo-lambda.log",
        help="where the functions' own log lines go (CloudWatch Logs' place locally)",
    )
    args = parser.parse_args(argv)
    console = Console(file=sys.__stdout__)
    args.lambda_log.parent.mkdir(parents=True, exist_ok=True)
    # The handlers log JSON lines to stdout, as Lambda expects; here they would bury the progress
    # bar, so stdout goes to a file for the run and the console writes to the terminal directly.
    # Powertools warns on stderr whenever an invocation published no metric (a replayed step).
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    with args.lambda_log.open("w") as log, contextlib.redirect_stdout(log):
        code = run(args.batch, args.poison, args.timeout, console)
    console.print(f"function logs: {args.lambda_log}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
