"""Options every command shares, each with its environment variable, and the user-facing error type."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from payctl.tools.api_client import ApiClient
from payctl.tools.connection import Connection, Target, resolve_connection
from payctl.tools.stack_file import DEFAULT_STATE_FILE

console = Console()
errors = Console(stderr=True)

_STACK = "Which stack"
_API = "API access"


class CommandError(Exception):
    """A user-facing failure: printed as one line without a traceback, exit status 1."""


StateFile = Annotated[
    Path,
    typer.Option(
        envvar="PAYCTL_STATE_FILE",
        help="Where `payctl local up` recorded the local stack.",
        rich_help_panel=_STACK,
    ),
]
StackName = Annotated[
    str | None,
    typer.Option(
        envvar="PAYCTL_STACK_NAME",
        help="A deployed CloudFormation stack (names from its outputs) instead of the local one.",
        rich_help_panel=_STACK,
    ),
]
Region = Annotated[
    str | None,
    typer.Option(
        envvar=["PAYCTL_REGION", "AWS_REGION"], help="AWS region of --stack-name.", rich_help_panel=_STACK
    ),
]
Profile = Annotated[
    str | None,
    typer.Option(
        envvar=["PAYCTL_PROFILE", "AWS_PROFILE"], help="AWS profile for --stack-name.", rich_help_panel=_STACK
    ),
]
EndpointUrl = Annotated[
    str | None,
    typer.Option(
        envvar="PAYCTL_ENDPOINT_URL",
        help="AWS endpoint URL for --stack-name (the local stack records its own).",
        rich_help_panel=_STACK,
    ),
]
ApiUrl = Annotated[
    str | None,
    typer.Option(
        envvar="PAYCTL_API_URL",
        help="The API stage URL (default: the stack's ApiUrl output).",
        rich_help_panel=_API,
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        envvar="PAYCTL_API_KEY",
        help="The submitters' API key value (default: read from API Gateway through the stack).",
        rich_help_panel=_API,
        show_default=False,
    ),
]
DashboardKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="PAYCTL_DASHBOARD_API_KEY",
        help="The dashboards' API key value (default: the stack's DashboardApiKeyId, read from API Gateway).",
        rich_help_panel=_API,
        show_default=False,
    ),
]


def target(
    state_file: Path = DEFAULT_STATE_FILE,
    stack_name: str | None = None,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
) -> Target:
    return Target(state_file, stack_name, region, profile, endpoint_url)


def connect(where: Target) -> Connection:
    return resolve_connection(where)


def api_client(
    where: Target, api_url: str | None, api_key: str | None, key_output: str = "ApiKeyId"
) -> ApiClient:
    """A client from --api-url/--api-key where given, the rest from the stack."""
    connection = None if (api_url and api_key) else connect(where)
    url = api_url or (connection.api_url if connection else "")
    key = api_key or (connection.api_key_value(key_output) if connection else "")
    try:
        return ApiClient(url, key)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
