"""The DLQ commands' filters, declared once: the options that choose messages, as a Selection."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

import typer

from payctl.tools.operator.dlq import Selection
from payctl.tools.options import Command, CommandError, fold_options, option

FILTERS_PANEL = "Which messages"
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

MessageIds = Annotated[
    list[str] | None,
    typer.Option("--message-id", help="A DLQ message id (repeatable).", rich_help_panel=FILTERS_PANEL),
]
TransactionIds = Annotated[
    list[str] | None,
    typer.Option(
        "--transaction-id", help="A payment's transaction id (repeatable).", rich_help_panel=FILTERS_PANEL
    ),
]
Reason = Annotated[
    str | None,
    typer.Option(
        help="Failure reason from the audit trail contains this text (any case).",
        rich_help_panel=FILTERS_PANEL,
    ),
]
Merchant = Annotated[
    str | None, typer.Option(help="The payment's merchant_id.", rich_help_panel=FILTERS_PANEL)
]
OlderThan = Annotated[
    str | None,
    typer.Option(help="Sent longer ago than this: 90s, 30m, 2h, 7d.", rich_help_panel=FILTERS_PANEL),
]
NewerThan = Annotated[
    str | None, typer.Option(help="Sent more recently than this.", rich_help_panel=FILTERS_PANEL)
]
Where = Annotated[
    str | None,
    typer.Option(
        help="A JMESPath predicate over the message body, e.g. \"payment.currency == 'EUR'\".",
        rich_help_panel=FILTERS_PANEL,
    ),
]


def _duration(text: str | None, option: str) -> timedelta | None:
    if text is None:
        return None
    match = _DURATION.match(text.strip())
    if not match:
        raise CommandError(f"{option} takes a duration like 90s, 30m, 2h or 7d, got {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True)
class Filters:
    """The filter options as given on the command line."""

    message_ids: list[str] | None = None
    transaction_ids: list[str] | None = None
    reason: str | None = None
    merchant: str | None = None
    older_than: str | None = None
    newer_than: str | None = None
    where: str | None = None

    def selection(self, complete: bool | None = None) -> Selection:
        import jmespath.exceptions

        try:
            return Selection(
                message_ids=frozenset(self.message_ids or ()),
                transaction_ids=frozenset(self.transaction_ids or ()),
                reason=self.reason,
                merchant_id=self.merchant,
                older_than=_duration(self.older_than, "--older-than"),
                newer_than=_duration(self.newer_than, "--newer-than"),
                where=self.where,
                complete=complete,
            )
        except jmespath.exceptions.JMESPathError as exc:
            raise CommandError(f"--where is not a JMESPath expression: {exc}") from exc


_FILTER_OPTIONS = (
    option("message_ids", MessageIds),
    option("transaction_ids", TransactionIds),
    option("reason", Reason),
    option("merchant", Merchant),
    option("older_than", OlderThan),
    option("newer_than", NewerThan),
    option("where", Where),
)


def filter_options(command: Command) -> Command:
    """Give ``command`` the filter options; it receives them as ``filters: Filters``."""
    return fold_options("filters", _FILTER_OPTIONS, Filters)(command)


def require_choice(selection: Selection, everything: bool, verb: str) -> None:
    if selection.everything and not everything:
        raise CommandError(
            f"say which messages to {verb}: --all or --message-id ID (or --transaction-id, --reason,"
            " --merchant, --older-than, --newer-than, --where)"
        )
