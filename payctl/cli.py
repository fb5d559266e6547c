"""payctl: run the stack locally, submit payments, follow them, operate the DLQ, watch the dashboards.

Commands that act on a stack find it through .payctl/local.json (written by `payctl local up`)
or, with --stack-name, through a deployed CloudFormation stack's outputs. Every option can also
come from the environment variable shown in its help (PAYCTL_API_URL, PAYCTL_API_KEY, ...).
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import click
import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.panel import Panel
from rich.table import Table

from payctl.local.persistence import DEFAULT_STATE_DIR, IncompatibleState
from payctl.tools.api_client import ApiUnreachable
from payctl.tools.connection import MissingOutput
from payctl.tools.options import (
    CommandError,
    EndpointUrl,
    Profile,
    Region,
    StackName,
    StateFile,
    connect,
    console,
    errors,
    target,
)
from payctl.tools.stack_file import DEFAULT_STATE_FILE, NoRunningStack, remove_state, write_state

if TYPE_CHECKING:
    from payctl.local.local_stack import LocalStack

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

app = typer.Typer(
    name="payctl",
    help=__doc__,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
local_app = typer.Typer(help="The whole stack on this machine (moto).", no_args_is_help=True)
app.add_typer(local_app, name="local")


def _parse_params(pairs: Sequence[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--params takes Key=Value pairs, got {pair!r}")
        params[key] = value
    return params


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


@local_app.command(
    "up",
    epilog="**Examples**\n\n"
    "    payctl local up\n\n"
    "    payctl local up --api-port 3000 --moto-port 5000 \\\n"
    "        --params EnvironmentSuffix=me ConsumerMaxConcurrency=4",
)
def local_up(
    overrides: Annotated[
        list[str] | None,
        typer.Argument(metavar="[KEY=VALUE]...", help="More template parameter overrides, after --params."),
    ] = None,
    params: Annotated[
        list[str] | None,
        typer.Option("--params", metavar="KEY=VALUE", help="Template parameter overrides, as samconfig's."),
    ] = None,
    api_port: Annotated[int, typer.Option(help="Port of the API front (0: any free port).")] = 3000,
    moto_port: Annotated[int, typer.Option(help="Port of the moto server other tools use (0: any).")] = 5000,
    host: Annotated[str, typer.Option(help="Address both servers listen on.")] = "127.0.0.1",
    template: Annotated[Path, typer.Option(help="The SAM template to deploy.")] = Path("template.yaml"),
    no_speedups: Annotated[bool, typer.Option(help="Run moto without the runtime's caches.")] = False,
    state_file: StateFile = DEFAULT_STATE_FILE,
    state_dir: Annotated[
        Path,
        typer.Option(help="Where the stack's data (tables, queues, archive, API keys) survives restarts."),
    ] = DEFAULT_STATE_DIR,
    ephemeral: Annotated[bool, typer.Option(help="Keep no data: everything is lost on stop.")] = False,
    save_interval: Annotated[
        float, typer.Option(help="Seconds between saves of the data (and on stop).")
    ] = 30.0,
) -> None:
    """Start the stack and serve it until Ctrl-C."""
    from payctl.local.api_front import PortInUse
    from payctl.local.local_stack import LocalStack
    from payctl.runtime import DeployFailed

    parameters = _parse_params([*(params or []), *(overrides or [])])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    local = LocalStack(
        template,
        parameters,
        host=host,
        api_port=api_port,
        moto_port=moto_port,
        speedups=not no_speedups,
        state_dir=None if ephemeral else state_dir,
        save_interval=save_interval,
    )
    with console.status("Deploying template.yaml into moto..."):
        try:
            local.start()
        except PortInUse as exc:
            raise CommandError(f"{exc.strerror}; pick another with --api-port / --moto-port") from exc
        except (ValueError, DeployFailed, IncompatibleState) as exc:
            raise CommandError(f"the stack did not start: {exc}") from exc
    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        written = write_state(local.connection_info(), state_file)
        key = local.api_key_value()
        dashboard_key = local.api_key_value("DashboardApiKeyId")
        base = local.api_url.rsplit("/", 1)[0]
        console.print(
            Panel.fit(
                f"[bold]API[/]            {local.api_url}\n"
                f"[bold]API key[/]        {key}  (id {local.api_key_id})\n"
                f"[bold]Dashboard key[/]  {dashboard_key}  (GET /audit and /audit/counters)\n"
                f"[bold]AWS endpoint[/]   {local.moto_endpoint}  (region {local.region})\n"
                f"[bold]Swagger UI[/]     {base}/docs\n"
                f"[bold]Dashboard[/]      {base}/dashboard/\n"
                f"[bold]State file[/]     {written}\n"
                f"[bold]Data[/]           {_data_line(local)}",
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
        remove_state(state_file)
        local.stop()


def _data_line(local: LocalStack) -> str:
    if local.ephemeral:
        return "[bold red]ephemeral[/]: tables, queues, the archive and the API keys are lost on stop"
    restored = f"restored {local.restored.summary()}" if local.restored else "a new state"
    every = f"{local.config.save_interval:g} s"
    return f"kept in {local.config.state_dir} ({restored}; saved on stop and every {every})"


# ---------------------------------------------------------------------------------------------- status


@local_app.command(
    "status", epilog="**Examples**\n\n    payctl local status\n\n    payctl local status --no-scan --json"
)
def local_status(
    no_scan: Annotated[bool, typer.Option(help="Skip the scan of the transactions table.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Also print the numbers as JSON.")] = False,
    state_file: StateFile = DEFAULT_STATE_FILE,
    stack_name: StackName = None,
    region: Region = None,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
) -> None:
    """Queue, in-flight and DLQ depth; transactions by status; today's audit counters."""
    from payctl.tools.operator.status import stack_status

    connection = connect(target(state_file, stack_name, region, profile, endpoint_url))
    status = stack_status(connection, scan_statuses=not no_scan)
    queues = Table(title="Queues", header_style="bold")
    for column in ("Queue", "Visible", "In flight", "Delayed"):
        queues.add_column(column, justify="right" if column != "Queue" else "left")
    queues.add_row(
        "payments", str(status.queue.visible), str(status.queue.in_flight), str(status.queue.delayed)
    )
    queues.add_row("DLQ", str(status.dlq.visible), str(status.dlq.in_flight), str(status.dlq.delayed))
    console.print(queues)
    if not no_scan:
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
    if as_json:
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


# ---------------------------------------------------------------------------------------------- api key


@app.command(
    "get-api-key",
    epilog="**Examples**\n\n"
    "    payctl get-api-key --include-value\n\n"
    "    export PAYCTL_DASHBOARD_API_KEY=$(payctl get-api-key --dashboard --include-value)\n\n"
    "    payctl get-api-key --stack-name payments-dev --region eu-west-1",
)
def get_api_key(
    include_value: Annotated[bool, typer.Option(help="Print the key's value instead of its id.")] = False,
    dashboard: Annotated[
        bool, typer.Option(help="The dashboards' key (audit range and counters), not the submitters'.")
    ] = False,
    state_file: StateFile = DEFAULT_STATE_FILE,
    stack_name: StackName = None,
    region: Region = None,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
) -> None:
    """The stack's API key id, or its value (API Gateway generates it; the stack outputs only its id)."""
    connection = connect(target(state_file, stack_name, region, profile, endpoint_url))
    output = "DashboardApiKeyId" if dashboard else "ApiKeyId"
    print(connection.api_key_value(output) if include_value else connection.output(output))


def _register() -> None:
    from payctl.tools.dashboard import cli as dashboard_cli
    from payctl.tools.operator.cli import dlq_app
    from payctl.tools.submitter import cli as submitter_cli

    submitter_cli.register(app)
    app.add_typer(dlq_app, name="dlq")
    app.command("dashboard", epilog=dashboard_cli.EPILOG)(dashboard_cli.dashboard_command)


_register()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    command = typer.main.get_command(app)
    try:
        result = command.main(
            args=list(argv) if argv is not None else None, prog_name="payctl", standalone_mode=False
        )
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        errors.print("interrupted")
        return 130
    except MissingOutput as exc:
        errors.print(f"[red]error:[/] {exc.args[0]}")
        return 1
    except (CommandError, NoRunningStack, ApiUnreachable, OSError, ValueError) as exc:
        errors.print(f"[red]error:[/] {_one_line(exc)}", highlight=False, soft_wrap=True)
        return 1
    except ClientError as exc:
        error = exc.response.get("Error", {})
        errors.print(
            f"[red]error:[/] AWS {error.get('Code', '?')}: {error.get('Message', '')}", highlight=False
        )
        return 1
    except BotoCoreError as exc:
        errors.print(f"[red]error:[/] AWS: {_one_line(exc)}", highlight=False)
        return 1
    return int(result or 0)
