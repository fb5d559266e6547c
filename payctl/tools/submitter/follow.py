"""``payctl status`` and ``payctl wait``: follow payments, by id or from a results file, until terminal."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from payctl.tools.api_client import ApiClient
from payctl.tools.connection import Target
from payctl.tools.options import (
    ApiAccess,
    CommandError,
    api_client,
    api_options,
    console,
    errors,
    stack_options,
)
from payctl.tools.submitter.send import RETRYABLE_STATUSES

TERMINAL = ("SETTLED", "DECLINED", "FAILED")
EXIT_TIMEOUT = 2

STATUS_EPILOG = "**Examples**\n\n    payctl status 3f1c...e9 7a0b...42\n\n    payctl status --json 3f1c...e9"
WAIT_EPILOG = (
    "**Examples**\n\n    payctl wait payments.csv.results.jsonl --timeout 300\n\n    payctl wait 3f1c...e9"
)


def _fetch(client: ApiClient, transaction_id: str) -> dict[str, Any]:
    response = client.get(f"/payments/{transaction_id}")
    if response.status == 200:
        body: dict[str, Any] = response.json()
        return body
    if response.status == 404:
        return {"transaction_id": transaction_id, "status": "NOT_FOUND"}
    if response.status in RETRYABLE_STATUSES:
        # Asked again on the next poll, like a payment not recorded yet.
        return {"transaction_id": transaction_id, "status": f"HTTP_{response.status}"}
    raise CommandError(f"GET /payments/{transaction_id}: HTTP {response.status} {response.body[:200]!r}")


@stack_options
@api_options
def status_command(
    api: ApiAccess,
    target: Target,
    transaction_ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Transaction ids.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per payment.")] = False,
) -> int:
    """Each payment's status now (GET /payments/{id}); NOT_FOUND before the consumer has recorded it."""
    with api_client(target, api) as client, ThreadPoolExecutor(max_workers=8) as pool:
        payments = list(pool.map(lambda tid: _fetch(client, tid), transaction_ids))
    if as_json:
        for payment in payments:
            print(json.dumps(payment))
        return 0
    table = Table(header_style="bold")
    for column in ("Transaction id", "Status", "Amount", "Reasons", "Updated (UTC)"):
        table.add_column(column)
    for payment in payments:
        reasons = payment.get("decline_reasons") or []
        amount = f"{payment.get('amount', '')} {payment.get('currency', '')}".strip()
        table.add_row(
            payment["transaction_id"],
            payment["status"],
            amount,
            ", ".join(reasons),
            payment.get("updated_at", ""),
        )
    console.print(table)
    return 0


def _ids_of(sources: list[str]) -> list[str]:
    """Transaction ids from results files (their accepted and replayed rows) or given as they are."""
    ids: list[str] = []
    for source in sources:
        path = Path(source)
        if not path.is_file():
            ids.append(source)
            continue
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle):
                if number == 0 or not line.strip():
                    continue
                entry = json.loads(line)
                if entry.get("transaction_id") and entry.get("status") in ("accepted", "replayed"):
                    ids.append(entry["transaction_id"])
    return list(dict.fromkeys(ids))


@stack_options
@api_options
def wait_command(
    api: ApiAccess,
    target: Target,
    sources: Annotated[
        list[str],
        typer.Argument(metavar="FILE|ID...", help="Results files of `payctl submit`, or transaction ids."),
    ],
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds (exit status 2).")] = 600.0,
    interval: Annotated[float, typer.Option(help="Seconds between polls of the payments still open.")] = 1.0,
) -> int:
    """Follow payments until each is SETTLED, DECLINED or FAILED, with a progress bar.

    FAILED is where a workflow stops; SQS may still redeliver the message, or an operator replay it.
    """
    ids = _ids_of(sources)
    if not ids:
        raise CommandError("no transaction ids to wait for")
    with api_client(target, api) as client:
        counts, pending = _follow(client, ids, timeout, interval)
    summary = ", ".join(f"{count} {name.lower()}" for name, count in counts.items())
    if pending:
        errors.print(f"timed out after {timeout:.0f} s: {len(pending)} of {len(ids)} still open ({summary})")
        return EXIT_TIMEOUT
    console.print(f"{len(ids)} payments terminal: {summary}")
    return 0


def _follow(
    client: ApiClient, ids: list[str], timeout: float, interval: float
) -> tuple[dict[str, int], list[str]]:
    """Poll the open payments until none is left or the timeout: counts by final status, and the
    ids still open."""
    counts = dict.fromkeys(TERMINAL, 0)
    pending = list(ids)
    deadline = time.monotonic() + timeout
    with (
        ThreadPoolExecutor(max_workers=8) as pool,
        Progress(
            TextColumn("[bold]Waiting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        task = progress.add_task("wait", total=len(ids), detail="")
        while pending:
            still = []
            for transaction_id, payment in zip(
                pending, pool.map(lambda t: _fetch(client, t), pending), strict=True
            ):
                if payment["status"] in counts:
                    counts[payment["status"]] += 1
                else:
                    still.append(transaction_id)
            pending = still
            progress.update(
                task,
                completed=len(ids) - len(pending),
                detail=", ".join(f"{name.lower()} {count}" for name, count in counts.items()),
            )
            if pending and time.monotonic() + interval > deadline:
                break
            if pending:
                time.sleep(interval)
    return counts, pending
