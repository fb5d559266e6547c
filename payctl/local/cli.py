"""``payctl local``: start the whole stack on this machine and serve it; its status at a glance."""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.panel import Panel
from rich.table import Table

from payctl.local.persistence import DEFAULT_STATE_DIR, IncompatibleState
from payctl.tools.connection import Target
from payctl.tools.options import CommandError, StateFile, connect, console, stack_options
from payctl.tools.stack_file import DEFAULT_STATE_FILE, remove_state, write_state
from payments_core.models import example_payment

if TYPE_CHECKING:
    from payctl.local.local_stack import LocalStack
    from payctl.tools.operator.status import StackStatus

EXAMPLE_PAYMENT = example_payment()

local_app = typer.Typer(help="The whole stack on this machine (moto).", no_args_is_help=True)


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


Overrides = Annotated[
    list[str] | None,
    typer.Argument(metavar="[KEY=VALUE]...", help="More template parameter overrides, after --params."),
]
Params = Annotated[
    list[str] | None,
    typer.Option("--params", metavar="KEY=VALUE", help="Template parameter overrides, as samconfig's."),
]
ApiPort = Annotated[int, typer.Option(help="Port of the API front (0: any free port).")]
MotoPort = Annotated[int, typer.Option(help="Port of the moto server other tools use (0: any).")]
Host = Annotated[str, typer.Option(help="Address both servers listen on.")]
TemplatePath = Annotated[Path, typer.Option(help="The SAM template to deploy.")]
NoSpeedups = Annotated[bool, typer.Option(help="Run moto without the runtime's caches.")]
StateDir = Annotated[
    Path, typer.Option(help="Where the stack's data (tables, queues, archive, API keys) survives restarts.")
]
Ephemeral = Annotated[bool, typer.Option(help="Keep no data: everything is lost on stop.")]
SaveInterval = Annotated[float, typer.Option(help="Seconds between saves of the data (and on stop).")]


@local_app.command(
    "up",
    epilog="**Examples**\n\n"
    "    payctl local up\n\n"
    "    payctl local up --api-port 3000 --moto-port 5000 \\\n"
    "        --params EnvironmentSuffix=me ConsumerMaxConcurrency=4",
)
def local_up(
    overrides: Overrides = None,
    params: Params = None,
    api_port: ApiPort = 3000,
    moto_port: MotoPort = 5000,
    host: Host = "127.0.0.1",
    template: TemplatePath = Path("template.yaml"),
    no_speedups: NoSpeedups = False,
    state_file: StateFile = DEFAULT_STATE_FILE,
    state_dir: StateDir = DEFAULT_STATE_DIR,
    ephemeral: Ephemeral = False,
    save_interval: SaveInterval = 30.0,
) -> None:
    """Start the stack and serve it until Ctrl-C."""
    from payctl.local.local_stack import LocalStack

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    local = LocalStack(
        template,
        _parse_params([*(params or []), *(overrides or [])]),
        host=host,
        api_port=api_port,
        moto_port=moto_port,
        speedups=not no_speedups,
        state_dir=None if ephemeral else state_dir,
        save_interval=save_interval,
    )
    _start(local)
    try:
        with _until_stopped() as stopping:
            _print_banner(local, write_state(local.connection_info(), state_file))
            console.print("Serving until Ctrl-C.")
            while not stopping.wait(0.5):
                pass
            console.print("Stopping...")
    finally:
        remove_state(state_file)
        local.stop()


def _start(local: LocalStack) -> None:
    from payctl.local.ports import PortInUse
    from payctl.runtime import DeployFailed

    with console.status("Deploying template.yaml into moto..."):
        try:
            local.start()
        except PortInUse as exc:
            raise CommandError(f"{exc.strerror}; pick another with --api-port / --moto-port") from exc
        except (ValueError, DeployFailed, IncompatibleState) as exc:
            raise CommandError(f"the stack did not start: {exc}") from exc


@contextmanager
def _until_stopped() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM while the block runs."""
    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopping
    finally:
        # A second Ctrl-C while batches finish interrupts the wait instead of being ignored.
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _print_banner(local: LocalStack, written: Path) -> None:
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


def _data_line(local: LocalStack) -> str:
    if local.ephemeral:
        return "[bold red]ephemeral[/]: tables, queues, the archive and the API keys are lost on stop"
    restored = f"restored {local.restored.summary()}" if local.restored else "a new state"
    every = f"{local.config.save_interval:g} s"
    return f"kept in {local.config.state_dir} ({restored}; saved on stop and every {every})"


@local_app.command(
    "status", epilog="**Examples**\n\n    payctl local status\n\n    payctl local status --no-scan --json"
)
@stack_options
def local_status(
    target: Target,
    no_scan: Annotated[bool, typer.Option(help="Skip the scan of the transactions table.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Also print the numbers as JSON.")] = False,
) -> None:
    """Queue, in-flight and DLQ depth; transactions by status; today's audit counters."""
    from payctl.tools.operator.status import stack_status

    status = stack_status(connect(target), scan_statuses=not no_scan)
    console.print(_queues_table(status))
    if not no_scan:
        console.print(_statuses_table(status.statuses))
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


def _queues_table(status: StackStatus) -> Table:
    queues = Table(title="Queues", header_style="bold")
    for column in ("Queue", "Visible", "In flight", "Delayed"):
        queues.add_column(column, justify="right" if column != "Queue" else "left")
    for name, depth in (("payments", status.queue), ("DLQ", status.dlq)):
        queues.add_row(name, str(depth.visible), str(depth.in_flight), str(depth.delayed))
    return queues


def _statuses_table(statuses: dict[str, int]) -> Table:
    table = Table(title="Transactions by status", header_style="bold")
    table.add_column("Status")
    table.add_column("Count", justify="right")
    for name, count in statuses.items():
        table.add_row(name, str(count))
    table.add_row("[bold]total[/]", str(sum(statuses.values())))
    return table
