"""payctl: run the stack locally, submit payments, inspect and replay the DLQ.

Commands that act on a stack find it through .payctl/local.json (written by `payctl local up`)
or, with --stack-name, through a deployed CloudFormation stack's outputs.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from payctl.local.api_gateway import PortInUse
from payctl.local.client import MAX_BATCH_ITEMS, ApiClient, load_payments, submit_batches
from payctl.local.connection import Connection, MissingOutput, resolve_connection
from payctl.local.state import DEFAULT_STATE_FILE, NoRunningStack, remove_state, write_state

console = Console()
errors = Console(stderr=True)

EXAMPLE_PAYMENT = {
    "merchant_id": "m_123",
    "amount": "12.34",
    "currency": "USD",
    "payment_method": {
        "type": "card",
        "token": "tok_visa_4242",
        "last4": "4242",
        "brand": "visa",
        "country": "US",
    },
    "customer": {"id": "c_42", "country": "US"},
    "reference": "order-1001",
}


class CommandError(Exception):
    """A user-facing failure: printed without a traceback, exit status 1."""


# ---------------------------------------------------------------------------------------------- shared


def _parse_params(pairs: Sequence[str] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--params takes Key=Value pairs, got {pair!r}")
        params[key] = value
    return params


def _connection(args: argparse.Namespace) -> Connection:
    try:
        return resolve_connection(
            getattr(args, "stack_name", None), getattr(args, "region", None), args.state_file
        )
    except NoRunningStack as exc:
        raise CommandError(str(exc)) from exc


def _api_key_value(connection: Connection, output: str = "ApiKeyId") -> str:
    client = connection.client("apigateway")
    return str(client.get_api_key(apiKey=connection.output(output), includeValue=True)["value"])


def _outputs_table(outputs: dict[str, str]) -> Table:
    table = Table(title="Stack outputs", show_header=True, header_style="bold")
    table.add_column("Output")
    table.add_column("Value", overflow="fold")
    for key in sorted(outputs):
        table.add_row(key, outputs[key])
    return table


def _curl_example(api_url: str, key: str) -> str:
    body = json.dumps(EXAMPLE_PAYMENT, separators=(",", ":"))
    return (
        f"curl -sS -X POST '{api_url}/payments' \\\n"
        f"  -H 'x-api-key: {key}' -H 'Idempotency-Key: order-1001' \\\n"
        f"  -H 'Content-Type: application/json' \\\n"
        f"  -d '{body}'"
    )


# ---------------------------------------------------------------------------------------------- local up


def cmd_local_up(args: argparse.Namespace) -> int:
    from payctl.local.stack import LocalStack
    from payctl.runtime import DeployFailed

    params = _parse_params(args.params)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    local = LocalStack(
        args.template,
        params,
        host=args.host,
        api_port=args.api_port,
        moto_port=args.moto_port,
        speedups=not args.no_speedups,
    )
    with console.status("Deploying template.yaml into moto..."):
        try:
            local.start()
        except PortInUse as exc:
            raise CommandError(f"{exc.strerror}; pick another with --api-port / --moto-port") from exc
        except (ValueError, DeployFailed) as exc:
            raise CommandError(f"the stack did not start: {exc}") from exc
    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        state_file = write_state(local.connection_info(), args.state_file)
        key = local.api_key_value()
        dashboard_key = local.api_key_value("DashboardApiKeyId")
        docs_url = local.api_url.rsplit("/", 1)[0] + "/docs"
        console.print(
            Panel.fit(
                f"[bold]API[/]            {local.api_url}\n"
                f"[bold]API key[/]        {key}  (id {local.api_key_id})\n"
                f"[bold]Dashboard key[/]  {dashboard_key}  (GET /audit and /audit/counters)\n"
                f"[bold]AWS endpoint[/]   {local.moto_endpoint}  (region {local.region})\n"
                f"[bold]Swagger UI[/]     {docs_url}\n"
                f"[bold]State file[/]     {state_file}",
                title="payments stack running locally",
            )
        )
        console.print(_outputs_table(local.outputs))
        console.print("[bold]Submit one payment:[/]")
        # soft_wrap: long lines stay whole, so they can be copied and pasted.
        console.print(_curl_example(local.api_url, key), markup=False, highlight=False, soft_wrap=True)
        console.print("[bold]Submit a batch file:[/]  payctl submit examples/sample_batch.json")
        console.print(
            "[bold]Other tools:[/]  export"
            f" AWS_ENDPOINT_URL={local.moto_endpoint} AWS_DEFAULT_REGION={local.region}"
            " AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
            soft_wrap=True,
        )
        console.print("Serving until Ctrl-C.")
        while not stopping.wait(0.5):
            pass
        console.print("Stopping...")
    finally:
        # A second Ctrl-C while batches finish interrupts the wait instead of being ignored.
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        remove_state(args.state_file)
        local.stop()
    return 0


# ---------------------------------------------------------------------------------------------- status


def cmd_local_status(args: argparse.Namespace) -> int:
    from payctl.local.ops import stack_status

    connection = _connection(args)
    status = stack_status(connection, scan_statuses=not args.no_scan)
    queues = Table(title="Queues", header_style="bold")
    for column in ("Queue", "Visible", "In flight", "Delayed"):
        queues.add_column(column, justify="right" if column != "Queue" else "left")
    queues.add_row(
        "payments", str(status.queue.visible), str(status.queue.in_flight), str(status.queue.delayed)
    )
    queues.add_row("DLQ", str(status.dlq.visible), str(status.dlq.in_flight), str(status.dlq.delayed))
    console.print(queues)
    if not args.no_scan:
        statuses = Table(title="Transactions by status", header_style="bold")
        statuses.add_column("Status")
        statuses.add_column("Count", justify="right")
        for name, count in status.statuses.items():
            statuses.add_row(name, str(count))
        statuses.add_row("[bold]total[/]", str(sum(status.statuses.values())))
        console.print(statuses)
    counters = Table(title=f"Audit counters for {status.day} (UTC)", header_style="bold")
    counters.add_column("Action")
    counters.add_column("Count", justify="right")
    for name, count in status.counters.items():
        counters.add_row(name, str(count))
    console.print(counters)
    if args.json:
        print(
            json.dumps(
                {
                    "queue": status.queue.__dict__,
                    "dlq": status.dlq.__dict__,
                    "statuses": status.statuses,
                    "counters": status.counters,
                    "day": status.day,
                }
            )
        )
    return 0


# ---------------------------------------------------------------------------------------------- api key


def cmd_get_api_key(args: argparse.Namespace) -> int:
    connection = _connection(args)
    output = "DashboardApiKeyId" if args.dashboard else "ApiKeyId"
    key_id = connection.output(output)
    if args.include_value:
        print(_api_key_value(connection, output))
    else:
        print(key_id)
    return 0


# ---------------------------------------------------------------------------------------------- submit


def cmd_submit(args: argparse.Namespace) -> int:
    try:
        payments = load_payments(json.loads(Path(args.file).read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read {args.file}: {exc}") from exc
    connection = None if (args.api_url and args.api_key) else _connection(args)
    api_url = args.api_url or (connection.api_url if connection else "")
    api_key = args.api_key or (_api_key_value(connection) if connection else "")
    client = ApiClient(api_url, api_key)
    with Progress(
        TextColumn("Submitting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("submit", total=len(payments))
        summary = submit_batches(
            client, payments, chunk_size=args.chunk_size, on_chunk=lambda n: progress.advance(task, n)
        )
    table = Table(title=f"Submitted {len(payments)} payments to {api_url}", header_style="bold")
    table.add_column("Result")
    table.add_column("Count", justify="right")
    table.add_row("accepted", str(summary.accepted))
    table.add_row("replayed", str(summary.replayed))
    table.add_row("rejected", str(summary.rejected))
    table.add_row("not submitted (HTTP error)", str(sum(chunk["size"] for chunk in summary.failed_chunks)))
    console.print(table)
    rejected = [r for r in summary.results if r.get("status") == "rejected"]
    if rejected:
        details = Table(title="Rejected items (first 20)", header_style="bold")
        for column in ("Index", "Idempotency key", "Code", "Field", "Message"):
            details.add_column(column)
        for result in rejected[:20]:
            error = result.get("error") or {}
            details.add_row(
                str(result["index"]),
                str(result.get("idempotency_key", "")),
                str(error.get("code", "")),
                str(error.get("field", "") or ""),
                str(error.get("message", "")),
            )
        console.print(details)
    for chunk in summary.failed_chunks:
        errors.print(
            f"chunk at {chunk['offset']} ({chunk['size']} items):"
            f" HTTP {chunk['status']} {chunk['body'][:300]}"
        )
    if args.results:
        Path(args.results).write_text(json.dumps(summary.results, indent=2), encoding="utf-8")
    return 1 if summary.failed_chunks else 0


# ---------------------------------------------------------------------------------------------- dlq


def cmd_dlq_list(args: argparse.Namespace) -> int:
    from payctl.local.ops import list_dlq

    connection = _connection(args)
    messages = list_dlq(connection.client("sqs"), connection.output("PaymentsDLQUrl"), limit=args.limit)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "message_id": m.message_id,
                        "transaction_id": m.transaction_id,
                        "receive_count": m.receive_count,
                        "sent_at": m.sent_at.isoformat() if m.sent_at else None,
                        "attributes": m.attributes,
                        "body": m.body,
                    }
                    for m in messages
                ],
                indent=2,
            )
        )
        return 0
    table = Table(title=f"DLQ: {len(messages)} message(s) shown (limit {args.limit})", header_style="bold")
    for column in ("Message id", "Transaction id", "Receives", "Sent (UTC)", "Body"):
        table.add_column(column, overflow="fold")
    for m in messages:
        table.add_row(
            m.message_id,
            m.transaction_id or "-",
            str(m.receive_count),
            m.sent_at.strftime("%Y-%m-%d %H:%M:%S") if m.sent_at else "-",
            m.body if len(m.body) <= 80 else m.body[:77] + "...",
        )
    console.print(table)
    return 0


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    from payctl.local.ops import replay_dlq

    if not args.all and not args.message_id:
        raise CommandError("say which messages to replay: --all or --message-id ID (repeatable)")
    connection = _connection(args)
    wanted = None if args.all else set(args.message_id)
    with console.status("Moving messages back to the payments queue..."):
        result = replay_dlq(connection, wanted)
    console.print(
        f"Replayed {result.moved} message(s) to {result.destination_arn}; {result.skipped} left in the DLQ."
    )
    for failure in result.failed:
        errors.print(f"could not replay {failure['MessageId']}: {failure['Error']}")
    if wanted is not None and result.moved < len(wanted):
        errors.print(f"{len(wanted) - result.moved} requested message id(s) were not found in the DLQ")
        return 1
    return 1 if result.failed else 0


# ---------------------------------------------------------------------------------------------- parser


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-file",
        type=Path,
        default=DEFAULT_STATE_FILE,
        help="where `payctl local up` recorded the stack",
    )
    parser.add_argument("--stack-name", help="a deployed CloudFormation stack instead of the local one")
    parser.add_argument("--region", help="AWS region of --stack-name")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="payctl", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="the whole stack on this machine (moto)")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    up = local_commands.add_parser("up", help="start the stack and serve until Ctrl-C")
    up.add_argument("--api-port", type=int, default=3000)
    up.add_argument("--moto-port", type=int, default=5000)
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--template", type=Path, default=Path("template.yaml"))
    up.add_argument(
        "--params", nargs="+", metavar="Key=Value", help="template parameter overrides (as samconfig does)"
    )
    up.add_argument("--no-speedups", action="store_true", help="run moto's interpreter without the caches")
    up.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE)
    up.set_defaults(handler=cmd_local_up)
    status = local_commands.add_parser("status", help="queue depths, DLQ depth, counts by status")
    _add_target_options(status)
    status.add_argument("--no-scan", action="store_true", help="skip the scan of the transactions table")
    status.add_argument("--json", action="store_true", help="also print the numbers as JSON")
    status.set_defaults(handler=cmd_local_status)

    key = commands.add_parser("get-api-key", help="the stack's API key id, or its value")
    _add_target_options(key)
    key.add_argument("--include-value", action="store_true", help="print the key value instead of its id")
    key.add_argument(
        "--dashboard",
        action="store_true",
        help="the dashboards' key (audit range and counters), not the submitters'",
    )
    key.set_defaults(handler=cmd_get_api_key)

    submit = commands.add_parser("submit", help="POST a batch file to /payments/batch in chunks")
    submit.add_argument("file", type=Path, help='{"payments": [...]} or a JSON list of payments')
    _add_target_options(submit)
    submit.add_argument("--chunk-size", type=int, default=MAX_BATCH_ITEMS)
    submit.add_argument("--api-url", help="the API stage URL (default: the stack's ApiUrl)")
    submit.add_argument("--api-key", help="the API key value (default: the stack's key)")
    submit.add_argument("--results", type=Path, help="write every per-item result to this JSON file")
    submit.set_defaults(handler=cmd_submit)

    dlq = commands.add_parser("dlq", help="inspect and replay the dead-letter queue")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    dlq_list = dlq_commands.add_parser("list", help="show DLQ messages without consuming them")
    _add_target_options(dlq_list)
    dlq_list.add_argument("--limit", type=int, default=100)
    dlq_list.add_argument("--json", action="store_true")
    dlq_list.set_defaults(handler=cmd_dlq_list)
    replay = dlq_commands.add_parser("replay", help="move DLQ messages back to the payments queue")
    _add_target_options(replay)
    which = replay.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true")
    which.add_argument("--message-id", action="append", help="a DLQ message id (repeatable)")
    replay.set_defaults(handler=cmd_dlq_replay)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except CommandError as exc:
        errors.print(f"[red]error:[/] {exc}")
        return 1
    except MissingOutput as exc:
        errors.print(f"[red]error:[/] {exc.args[0]}")
        return 1
    except KeyboardInterrupt:
        return 130
