"""``payctl submit``, ``payctl status`` and ``payctl wait``: what a batch submitter runs."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from payctl.tools.api_client import ApiClient
from payctl.tools.options import (
    ApiKey,
    ApiUrl,
    CommandError,
    EndpointUrl,
    Profile,
    Region,
    StackName,
    StateFile,
    api_client,
    console,
    errors,
    target,
)
from payctl.tools.stack_file import DEFAULT_STATE_FILE
from payctl.tools.submitter.journal import Journal
from payctl.tools.submitter.reader import FORMATS, Row, read_rows
from payctl.tools.submitter.rows import KEY_COLUMN, Checked, check_row
from payctl.tools.submitter.send import (
    MAX_BATCH_ITEMS,
    RETRYABLE_STATUSES,
    BatchSender,
    RateLimit,
    RunStopped,
    Tally,
    submit,
)

TERMINAL = ("SETTLED", "DECLINED", "FAILED")
EXIT_REJECTED = 1
EXIT_TIMEOUT = 2

SUBMIT_EPILOG = """**Examples**

    payctl submit examples/sample_batch.json

    payctl submit payments.csv --results run.results.jsonl

    payctl submit payments.csv --results run.results.jsonl --resume

    gunzip -c big.jsonl.gz | payctl submit - --format jsonl --results big.results.jsonl

    payctl submit payments.csv --dry-run

    export PAYCTL_API_URL=https://abc.execute-api.eu-west-1.amazonaws.com/prod PAYCTL_API_KEY=...

    payctl submit day.jsonl

Formats: CSV (a header row; dotted columns nest: payment_method.token, customer.country,
metadata.order), JSON Lines (one payment per line), JSON ({"payments": [...]} or a list).
Each row's idempotency key comes from the --key-column (default idempotency_key), or is derived
from the row's content, so re-running a file never pays twice. Exit status: 0 all rows accepted
or replayed, 1 a row was rejected or could not be sent.
"""


def _open(source: str) -> tuple[IO[bytes], int | None]:
    if source == "-":
        return sys.stdin.buffer, None
    path = Path(source)
    try:
        return path.open("rb"), path.stat().st_size
    except OSError as exc:
        raise CommandError(f"cannot read {source}: {exc.strerror}") from exc


def _checked(rows: Iterator[Row], key_column: str) -> Iterator[Checked]:
    for row in rows:
        yield check_row(row.number, row.payment, row.error, key_column)


def _summary(tally: Tally, title: str) -> Table:
    table = Table(title=title, header_style="bold")
    table.add_column("Rows")
    table.add_column("Count", justify="right")
    table.add_row("read", str(tally.rows))
    if tally.resumed:
        table.add_row("finished by an earlier run (--resume; counted below)", str(tally.resumed))
    table.add_row("accepted", str(tally.accepted))
    table.add_row("replayed", str(tally.replayed))
    table.add_row("rejected", str(tally.rejected))
    if tally.not_sent:
        table.add_row("[red]not sent (retries exhausted)[/]", str(tally.not_sent))
    return table


def _progress(size: int | None) -> Progress:
    columns: list[Any] = [TextColumn("[bold]{task.description}"), BarColumn()]
    if size is not None:
        columns += [TaskProgressColumn(), DownloadColumn()]
    columns += [
        TextColumn(
            "rows {task.fields[rows]:,}  [green]accepted {task.fields[accepted]:,}[/]"
            "  replayed {task.fields[replayed]:,}  [red]rejected {task.fields[rejected]:,}[/]"
            "  {task.fields[rate]:,.0f} rows/s"
        ),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    return Progress(*columns, console=console, transient=False)


def submit_command(
    source: Annotated[str, typer.Argument(metavar="FILE|-", help="CSV, JSON Lines or JSON; - reads stdin.")],
    results: Annotated[
        Path | None,
        typer.Option(
            help="The results file and journal (JSON Lines: row, idempotency_key, status, transaction_id,"
            " error), appended as rows finish. Default: FILE.results.jsonl (required for stdin)."
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(help="Continue the run recorded in --results: skip its finished rows, send the rest."),
    ] = False,
    input_format: Annotated[
        str,
        typer.Option(
            "--format",
            help=f"One of {', '.join(FORMATS)}; auto goes by the file's suffix, else its first line.",
        ),
    ] = "auto",
    key_column: Annotated[
        str, typer.Option(help="The column (or JSON field) holding each row's idempotency key.")
    ] = KEY_COLUMN,
    batch_size: Annotated[
        int,
        typer.Option(min=1, max=MAX_BATCH_ITEMS, help="Rows per POST /payments/batch (the API takes 500)."),
    ] = MAX_BATCH_ITEMS,
    chunk_size: Annotated[int | None, typer.Option(hidden=True, help="Old name of --batch-size.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=32, help="Batches in flight at once.")] = 4,
    rate: Annotated[
        float | None,
        typer.Option(min=0.1, help="At most this many rows per second (to stay under a usage plan)."),
    ] = None,
    max_attempts: Annotated[
        int, typer.Option(min=1, max=20, help="Attempts per batch before giving up.")
    ] = 8,
    dry_run: Annotated[
        bool, typer.Option(help="Read and check every row locally; send nothing, write no results.")
    ] = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    state_file: StateFile = DEFAULT_STATE_FILE,
    stack_name: StackName = None,
    region: Region = None,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
) -> int:
    """Submit a file of payments to POST /payments/batch, streaming it at constant memory."""
    from payctl.tools.submitter.send import Backoff

    if results is None and not dry_run:
        if source == "-":
            raise CommandError("reading stdin needs --results PATH (the journal --resume continues from)")
        results = Path(f"{source}.results.jsonl")
    raw, size = _open(source)
    with ExitStack() as stack:
        if raw is not sys.stdin.buffer:
            stack.callback(raw.close)
        rows, counter = read_rows(raw, source, input_format)
        checked = _checked(rows, key_column)
        if dry_run:
            return _dry_run(checked, source)
        assert results is not None
        journal = Journal(results, source=Path(source).name if source != "-" else "-", resume=resume)
        stack.callback(journal.close)
        client = api_client(target(state_file, stack_name, region, profile, endpoint_url), api_url, api_key)
        stack.callback(client.close)
        sender = BatchSender(client, backoff=Backoff(attempts=max_attempts), rate=RateLimit(rate))
        started = time.monotonic()
        with _progress(size) as progress:
            task = progress.add_task(
                "Submitting", total=size, rows=0, accepted=0, replayed=0, rejected=0, rate=0.0
            )

            def update(tally: Tally) -> None:
                elapsed = max(time.monotonic() - started, 1e-6)
                progress.update(
                    task,
                    completed=counter.consumed,
                    rows=tally.rows,
                    accepted=tally.accepted,
                    replayed=tally.replayed,
                    rejected=tally.rejected,
                    rate=(tally.finished - tally.rejected) / elapsed,
                )

            try:
                tally = submit(
                    checked,
                    journal,
                    sender,
                    batch_size=chunk_size or batch_size,
                    concurrency=concurrency,
                    on_progress=update,
                )
            except KeyboardInterrupt:
                errors.print(f"interrupted; finished rows are in {results}; continue with --resume")
                raise
            except RunStopped as exc:
                raise CommandError(f"{exc}; finished rows are in {results}") from exc
            if size is not None:
                progress.update(task, completed=size)
        elapsed = time.monotonic() - started
        console.print(_summary(tally, f"Submitted {source} in {elapsed:.1f} s; results in {results}"))
        if tally.not_sent:
            errors.print(
                f"{tally.not_sent} row(s) not sent: {tally.last_failure}; rerun with --resume to send them"
            )
        if tally.rejected:
            errors.print(f"{tally.rejected} row(s) rejected; their errors are in {results}")
    return EXIT_REJECTED if tally.rejected or tally.not_sent else 0


def _dry_run(checked: Iterator[Checked], source: str) -> int:
    rows = rejected = 0
    shown = Table(title="Rejected rows (first 20)", header_style="bold")
    for column in ("Row", "Code", "Field", "Message"):
        shown.add_column(column)
    for row in checked:
        rows += 1
        if row.error is not None:
            rejected += 1
            if rejected <= 20:
                shown.add_row(
                    str(row.number), row.error["code"], row.error.get("field") or "", row.error["message"]
                )
    console.print(f"{source}: {rows} rows read, {rows - rejected} valid, {rejected} rejected (nothing sent)")
    if rejected:
        console.print(shown)
    return EXIT_REJECTED if rejected else 0


# ---------------------------------------------------------------------------------------------- status / wait


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


def status_command(
    transaction_ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Transaction ids.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per payment.")] = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    state_file: StateFile = DEFAULT_STATE_FILE,
    stack_name: StackName = None,
    region: Region = None,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
) -> int:
    """Each payment's status now (GET /payments/{id}); NOT_FOUND before the consumer has recorded it."""
    import json

    with (
        api_client(target(state_file, stack_name, region, profile, endpoint_url), api_url, api_key) as client,
        ThreadPoolExecutor(max_workers=8) as pool,
    ):
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
    import json

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


def wait_command(
    sources: Annotated[
        list[str],
        typer.Argument(metavar="FILE|ID...", help="Results files of `payctl submit`, or transaction ids."),
    ],
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds (exit status 2).")] = 600.0,
    interval: Annotated[float, typer.Option(help="Seconds between polls of the payments still open.")] = 1.0,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
    state_file: StateFile = DEFAULT_STATE_FILE,
    stack_name: StackName = None,
    region: Region = None,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
) -> int:
    """Follow payments until each is SETTLED, DECLINED or FAILED, with a progress bar.

    FAILED is where a workflow stops; SQS may still redeliver the message, or an operator replay it.
    """
    ids = _ids_of(sources)
    if not ids:
        raise CommandError("no transaction ids to wait for")
    counts = dict.fromkeys(TERMINAL, 0)
    pending = list(ids)
    deadline = time.monotonic() + timeout
    with (
        api_client(target(state_file, stack_name, region, profile, endpoint_url), api_url, api_key) as client,
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
    summary = ", ".join(f"{count} {name.lower()}" for name, count in counts.items())
    if pending:
        errors.print(f"timed out after {timeout:.0f} s: {len(pending)} of {len(ids)} still open ({summary})")
        return EXIT_TIMEOUT
    console.print(f"{len(ids)} payments terminal: {summary}")
    return 0


def register(app: typer.Typer) -> None:
    app.command("submit", epilog=SUBMIT_EPILOG)(submit_command)
    app.command(
        "status",
        epilog="**Examples**\n\n    payctl status 3f1c...e9 7a0b...42\n\n    payctl status --json 3f1c...e9",
    )(status_command)
    app.command(
        "wait",
        epilog="**Examples**\n\n    payctl wait payments.csv.results.jsonl --timeout 300\n\n"
        "    payctl wait 3f1c...e9",
    )(wait_command)
