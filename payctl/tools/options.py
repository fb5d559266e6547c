"""Options every command shares, each with its environment variable, and the user-facing error type.

The options that name a stack (and, for the API's users, the API's URL and key) are declared
once here. A command asks for them with :func:`stack_options` or :func:`api_options` and gets
them as one value, a :class:`Target` or an :class:`ApiAccess`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from payctl.tools.api_client import ApiClient
from payctl.tools.connection import Connection, Target, resolve_connection
from payctl.tools.stack_file import DEFAULT_STATE_FILE

Command = TypeVar("Command", bound=Callable[..., Any])

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


@dataclass(frozen=True)
class ApiAccess:
    """--api-url and --api-key as given; what is missing comes from the stack."""

    api_url: str | None = None
    api_key: str | None = None


def option(name: str, annotation: Any, default: Any = None) -> inspect.Parameter:
    """One command-line option, as a keyword parameter :func:`fold_options` adds to a command."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


_STACK_OPTIONS = (
    option("state_file", StateFile, DEFAULT_STATE_FILE),
    option("stack_name", StackName),
    option("region", Region),
    option("profile", Profile),
    option("endpoint_url", EndpointUrl),
)
_SUBMITTER_API_OPTIONS = (option("api_url", ApiUrl), option("api_key", ApiKey))
_DASHBOARD_API_OPTIONS = (option("api_url", ApiUrl), option("api_key", DashboardKey))


def fold_options(
    parameter: str, options: tuple[inspect.Parameter, ...], build: Callable[..., Any]
) -> Callable[[Command], Command]:
    """A decorator: the command's ``parameter`` becomes ``options`` on the command line, and the
    command receives ``build(**their values)`` in it. typer reads the rewritten signature."""

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command, eval_str=True)
        kept = [p for p in signature.parameters.values() if p.name != parameter]
        names = [folded.name for folded in options]

        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            folded = build(**{name: kwargs.pop(name) for name in names})
            return command(*args, **{parameter: folded}, **kwargs)

        run.__signature__ = signature.replace(parameters=[*kept, *options])  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in (*kept, *options)}
        run.__annotations__["return"] = signature.return_annotation
        return run  # type: ignore[return-value]

    return decorate


def stack_options(command: Command) -> Command:
    """Give ``command`` the options that name a stack; it receives them as ``target: Target``."""
    return fold_options("target", _STACK_OPTIONS, Target)(command)


def api_options(command: Command) -> Command:
    """Give ``command`` --api-url and the submitters' --api-key; it receives ``api: ApiAccess``."""
    return fold_options("api", _SUBMITTER_API_OPTIONS, ApiAccess)(command)


def dashboard_api_options(command: Command) -> Command:
    """As :func:`api_options`, with the dashboards' key (``PAYCTL_DASHBOARD_API_KEY``)."""
    return fold_options("api", _DASHBOARD_API_OPTIONS, ApiAccess)(command)


def connect(target: Target) -> Connection:
    return resolve_connection(target)


def api_client(target: Target, api: ApiAccess, key_output: str = "ApiKeyId") -> ApiClient:
    """A client from --api-url/--api-key where given, the rest from the stack."""
    connection = None if (api.api_url and api.api_key) else connect(target)
    url = api.api_url or (connection.api_url if connection else "")
    key = api.api_key or (connection.api_key_value(key_output) if connection else "")
    try:
        return ApiClient(url, key)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
