"""``payctl submit``, ``payctl status`` and ``payctl wait``: what a batch submitter runs."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

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
from payctl.tools.submitter import follow
from payctl.tools.submitter.journal import Journal
from payctl.tools.submitter.reader import FORMATS, CountingReader, Row, read_rows
from payctl.tools.submitter.rows import KEY_COLUMN, Checked, check_row
from payctl.tools.submitter.send import (
    MAX_BATCH_ITEMS,
    Backoff,
    BatchSender,
    RateLimit,
    RunStopped,
    Tally,
    submit,
)

EXIT_REJECTED = 1

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


Results = Annotated[
    Path | None,
    typer.Option(
        help="The results file and journal (JSON Lines: row, idempotency_key, status, transaction_id,"
        " error), appended as rows finish. Default: FILE.results.jsonl (required for stdin)."
    ),
]
Resume = Annotated[
    bool, typer.Option(help="Continue the run recorded in --results: skip its finished rows, send the rest.")
]
InputFormat = Annotated[
    str,
    typer.Option(
        "--format", help=f"One of {', '.join(FORMATS)}; auto goes by the file's suffix, else its first line."
    ),
]
KeyColumn = Annotated[
    str, typer.Option(help="The column (or JSON field) holding each row's idempotency key.")
]
BatchSize = Annotated[
    int, typer.Option(min=1, max=MAX_BATCH_ITEMS, help="Rows per POST /payments/batch (the API takes 500).")
]
ChunkSize = Annotated[int | None, typer.Option(hidden=True, help="Old name of --batch-size.")]
Concurrency = Annotated[int, typer.Option(min=1, max=32, help="Batches in flight at once.")]
Rate = Annotated[
    float | None,
    typer.Option(min=0.1, help="At most this many rows per second (to stay under a usage plan)."),
]
MaxAttempts = Annotated[int, typer.Option(min=1, max=20, help="Attempts per batch before giving up.")]
DryRun = Annotated[
    bool, typer.Option(help="Read and check every row locally; send nothing, write no results.")
]


@stack_options
@api_options
def submit_command(
    api: ApiAccess,
    target: Target,
    source: Annotated[str, typer.Argument(metavar="FILE|-", help="CSV, JSON Lines or JSON; - reads stdin.")],
    results: Results = None,
    resume: Resume = False,
    input_format: InputFormat = "auto",
    key_column: KeyColumn = KEY_COLUMN,
    batch_size: BatchSize = MAX_BATCH_ITEMS,
    chunk_size: ChunkSize = None,
    concurrency: Concurrency = 4,
    rate: Rate = None,
    max_attempts: MaxAttempts = 8,
    dry_run: DryRun = False,
) -> int:
    """Submit a file of payments to POST /payments/batch, streaming it at constant memory."""
    results = _results_path(source, results, dry_run)
    raw, size = _open(source)
    with ExitStack() as stack:
        if raw is not sys.stdin.buffer:
            stack.callback(raw.close)
        rows, counter = read_rows(raw, source, input_format)
        checked = _checked(rows, key_column)
        if dry_run or results is None:
            return _dry_run(checked, source)
        journal = Journal(results, source=Path(source).name if source != "-" else "-", resume=resume)
        stack.callback(journal.close)
        client = api_client(target, api)
        stack.callback(client.close)
        sender = BatchSender(client, backoff=Backoff(attempts=max_attempts), rate=RateLimit(rate))
        run = _Run(source, size, results, counter)
        tally = run.submit(
            checked, journal, sender, batch_size=chunk_size or batch_size, concurrency=concurrency
        )
        run.report(tally)
    return EXIT_REJECTED if tally.rejected or tally.not_sent else 0


def _results_path(source: str, results: Path | None, dry_run: bool) -> Path | None:
    if results is not None or dry_run:
        return results
    if source == "-":
        raise CommandError("reading stdin needs --results PATH (the journal --resume continues from)")
    return Path(f"{source}.results.jsonl")


@dataclass
class _Run:
    """One submit run: its progress bar while it sends, its summary after."""

    source: str
    size: int | None
    results: Path
    counter: CountingReader
    started: float = field(default_factory=time.monotonic)

    def submit(
        self,
        checked: Iterator[Checked],
        journal: Journal,
        sender: BatchSender,
        *,
        batch_size: int,
        concurrency: int,
    ) -> Tally:
        with _progress(self.size) as progress:
            task = progress.add_task(
                "Submitting", total=self.size, rows=0, accepted=0, replayed=0, rejected=0, rate=0.0
            )

            def update(tally: Tally) -> None:
                elapsed = max(time.monotonic() - self.started, 1e-6)
                progress.update(
                    task,
                    completed=self.counter.consumed,
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
                    batch_size=batch_size,
                    concurrency=concurrency,
                    on_progress=update,
                )
            except KeyboardInterrupt:
                errors.print(f"interrupted; finished rows are in {self.results}; continue with --resume")
                raise
            except RunStopped as exc:
                raise CommandError(f"{exc}; finished rows are in {self.results}") from exc
            if self.size is not None:
                progress.update(task, completed=self.size)
        return tally

    def report(self, tally: Tally) -> None:
        elapsed = time.monotonic() - self.started
        console.print(
            _summary(tally, f"Submitted {self.source} in {elapsed:.1f} s; results in {self.results}")
        )
        if tally.not_sent:
            errors.print(
                f"{tally.not_sent} row(s) not sent: {tally.last_failure}; rerun with --resume to send them"
            )
        if tally.rejected:
            errors.print(f"{tally.rejected} row(s) rejected; their errors are in {self.results}")


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


def register(app: typer.Typer) -> None:
    app.command("submit", epilog=SUBMIT_EPILOG)(submit_command)
    app.command("status", epilog=follow.STATUS_EPILOG)(follow.status_command)
    app.command("wait", epilog=follow.WAIT_EPILOG)(follow.wait_command)
