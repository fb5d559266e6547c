"""``payctl dashboard``: the dashboards' figures in the terminal, once or refreshed (--watch)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Group
from rich.live import Live
from rich.table import Table

from payctl.tools.connection import MissingOutput, Target
from payctl.tools.dashboard.figures import DashboardUnavailable, Figures, compute
from payctl.tools.dashboard.web import page
from payctl.tools.operator.queues import queue_depth
from payctl.tools.options import (
    ApiAccess,
    ApiUrl,
    CommandError,
    api_client,
    connect,
    console,
    dashboard_api_options,
    stack_options,
)
from payctl.tools.stack_file import NoRunningStack

EPILOG = """**Examples**

    payctl dashboard

    payctl dashboard --watch 5

    payctl dashboard --json

    export PAYCTL_DASHBOARD_API_KEY=...

    payctl dashboard --api-url https://abc.execute-api.eu-west-1.amazonaws.com/v1
"""


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def render(figures: Figures) -> Group:
    counts = Table(title=f"Payments by outcome (UTC day {figures.day})", header_style="bold")
    for column in ("Outcome", "Today", "Last hour"):
        counts.add_column(column, justify="left" if column == "Outcome" else "right")
    for word in ("settled", "declined", "failed"):
        counts.add_row(word, f"{figures.today[word]:,}", f"{figures.last_hour[word]:,}")
    counts.add_row("received", f"{figures.today['received']:,}", "")

    summary = Table(title="Last hour", show_header=False)
    summary.add_column("Figure", style="bold")
    summary.add_column("Value", justify="right")
    summary.add_row("latency p50 (received → terminal)", _seconds(figures.latency_p50))
    summary.add_row("latency p95", _seconds(figures.latency_p95))
    rate = "-" if figures.decline_rate is None else f"{figures.decline_rate:.1%}"
    summary.add_row("decline rate", rate)
    summary.add_row("top decline reasons", ", ".join(f"{r} ({n})" for r, n in figures.top_reasons) or "-")
    summary.add_row("DLQ depth", "-" if figures.dlq_depth is None else str(figures.dlq_depth))

    minutes = Table(title="Terminal payments per minute (last hour)", header_style="bold")
    minutes.add_column("Minute (UTC)")
    minutes.add_column("Payments", justify="right")
    minutes.add_column("")
    peak = max((n for _, n in figures.per_minute), default=0)
    for minute, count in figures.per_minute[-15:]:
        minutes.add_row(minute, str(count), "█" * max(1, round(30 * count / peak)) if peak else "")

    failures = Table(title="Latest failures", header_style="bold")
    for column in ("At", "Transaction id", "Error"):
        failures.add_column(column, overflow="fold")
    for failure in figures.latest_failures:
        failures.add_row(failure["at"], failure["transaction_id"], str(failure["error"]))
    return Group(counts, summary, minutes, failures)


@stack_options
@dashboard_api_options
def dashboard_command(
    api: ApiAccess,
    target: Target,
    watch: Annotated[
        float | None, typer.Option(min=1, help="Refresh every this many seconds until Ctrl-C.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures once as JSON.")] = False,
) -> None:
    """Payments by outcome today and in the last hour, throughput per minute, latency, declines, DLQ."""
    client = api_client(target, api, key_output="DashboardApiKeyId")
    try:
        connection = connect(target)
        sqs, dlq_url = connection.client("sqs"), connection.output("PaymentsDLQUrl")
    except (NoRunningStack, MissingOutput, BotoCoreError, ClientError):
        # The DLQ depth needs the stack; with only --api-url and a key the rest still shows.
        sqs = dlq_url = None

    def figures() -> Figures:
        depth = queue_depth(sqs, dlq_url).total if sqs is not None and dlq_url else None
        try:
            return compute(client, dlq_depth=depth)
        except DashboardUnavailable as exc:
            raise CommandError(str(exc)) from exc

    with client:
        if as_json:
            print(json.dumps(asdict(figures()), default=str))
            return
        if watch is None:
            console.print(render(figures()))
            return
        with Live(render(figures()), console=console, refresh_per_second=1) as live:
            while True:
                time.sleep(watch)
                live.update(render(figures()))


PAGE_EPILOG = """**Examples**

    payctl dashboard-page --output site/index.html

    payctl dashboard-page --stack-name payments-prod-main --output site/index.html

    aws s3 cp site/index.html s3://BUCKET/index.html --content-type text/html

Open it as https://ORIGIN/index.html#key=DASHBOARD_KEY, after deploying the stack with
DashboardOrigin=https://ORIGIN: browsers let only that origin read the API.
"""


@stack_options
def dashboard_page_command(
    target: Target,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the page (one self-contained HTML file).")
    ] = Path("dashboard.html"),
    api_url: ApiUrl = None,
) -> None:
    """Write the web dashboard as a static page that reads this stack's API, to host on any origin."""
    url = api_url or connect(target).api_url
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(page(url.rstrip("/")))
    console.print(f"wrote {output} for {url}; the key goes in the URL fragment: {output.name}#key=...")
