"""payctl: run the stack locally, submit payments, follow them, operate the DLQ, watch the dashboards.

Commands that act on a stack find it through .payctl/local.json (written by `payctl local up`)
or, with --stack-name, through a deployed CloudFormation stack's outputs. Every option can also
come from the environment variable shown in its help (PAYCTL_API_URL, PAYCTL_API_KEY, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import click
import typer
from botocore.exceptions import BotoCoreError, ClientError

from payctl.tools.api_client import ApiUnreachable
from payctl.tools.connection import MissingOutput, Target
from payctl.tools.options import CommandError, connect, errors, stack_options
from payctl.tools.stack_file import NoRunningStack
from payments_core.errors import DependencyError

app = typer.Typer(
    name="payctl",
    help=__doc__,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command(
    "get-api-key",
    epilog="**Examples**\n\n"
    "    payctl get-api-key --include-value\n\n"
    "    export PAYCTL_DASHBOARD_API_KEY=$(payctl get-api-key --dashboard --include-value)\n\n"
    "    payctl get-api-key --stack-name payments-dev --region eu-west-1",
)
@stack_options
def get_api_key(
    target: Target,
    include_value: Annotated[bool, typer.Option(help="Print the key's value instead of its id.")] = False,
    dashboard: Annotated[
        bool, typer.Option(help="The dashboards' key (audit range and counters), not the submitters'.")
    ] = False,
) -> None:
    """The stack's API key id, or its value (API Gateway generates it; the stack outputs only its id)."""
    connection = connect(target)
    output = "DashboardApiKeyId" if dashboard else "ApiKeyId"
    print(connection.api_key_value(output) if include_value else connection.output(output))


def _register() -> None:
    from payctl.local.cli import local_app
    from payctl.tools.dashboard import cli as dashboard_cli
    from payctl.tools.operator.cli import dlq_app
    from payctl.tools.submitter import cli as submitter_cli

    app.add_typer(local_app, name="local")
    submitter_cli.register(app)
    app.add_typer(dlq_app, name="dlq")
    app.command("dashboard", epilog=dashboard_cli.EPILOG)(dashboard_cli.dashboard_command)
    app.command("dashboard-page", epilog=dashboard_cli.PAGE_EPILOG)(dashboard_cli.dashboard_page_command)


_register()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _aws_error(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"AWS {error.get('Code', '?')}: {error.get('Message', '')}"


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
        errors.print(f"[red]error:[/] {_aws_error(exc)}", highlight=False)
        return 1
    except DependencyError as exc:
        # The shared readers wrap the AWS error; its code says more than "read failed".
        cause = f": {_aws_error(exc.__cause__)}" if isinstance(exc.__cause__, ClientError) else ""
        errors.print(f"[red]error:[/] {_one_line(exc)}{cause}", highlight=False)
        return 1
    except BotoCoreError as exc:
        errors.print(f"[red]error:[/] AWS: {_one_line(exc)}", highlight=False)
        return 1
    return int(result or 0)
