"""``payctl dlq``: list, show, replay, drop, and SQS's own move tasks."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable
from typing import Annotated

import typer

from payctl.tools.connection import Target
from payctl.tools.operator import views
from payctl.tools.operator.dlq import Dlq, DlqMessage, ReplayReport, Selection
from payctl.tools.operator.filters import FILTERS_PANEL, Filters, filter_options, require_choice
from payctl.tools.options import CommandError, connect, console, errors, stack_options

dlq_app = typer.Typer(
    help="Inspect, replay and drop the dead-letter queue's messages; SQS's own move tasks.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

All = Annotated[
    bool,
    typer.Option(
        "--all", help="Every message (needed when no filter is given).", rich_help_panel=FILTERS_PANEL
    ),
]
Operator = Annotated[
    str | None,
    typer.Option(envvar="PAYCTL_OPERATOR", help="Who acts, for the audit rows (default: the OS user)."),
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Confirm = Callable[[list[DlqMessage]], bool]


def _confirm(verb: str, yes: bool) -> Confirm:
    def confirm(messages: list[DlqMessage]) -> bool:
        if yes or len(messages) == 1:
            return True
        console.print(views.messages_table(messages, f"{len(messages)} message(s) to {verb}"))
        if not sys.stdin.isatty():
            raise CommandError(
                f"{len(messages)} messages would {verb}; confirm with --yes (no terminal to ask on)"
            )
        return typer.confirm(f"{verb.capitalize()} these {len(messages)} messages?")

    return confirm


def _confirm_drop(yes: bool) -> Confirm:
    def confirm(messages: list[DlqMessage]) -> bool:
        # A drop cannot be undone: ask even for one message.
        if yes:
            return True
        console.print(views.messages_table(messages, f"{len(messages)} message(s) to drop for good"))
        if not sys.stdin.isatty():
            raise CommandError(f"{len(messages)} message(s) would be dropped; confirm with --yes")
        return typer.confirm(f"Drop these {len(messages)} messages for good?")

    return confirm


def _confirm_native() -> bool:
    if not sys.stdin.isatty():
        raise CommandError("a native move task moves every message; confirm with --yes")
    return typer.confirm("Move every DLQ message back to the payments queue?")


def _operator(name: str | None) -> str:
    return name or getpass.getuser()


def _dlq(target: Target) -> Dlq:
    return Dlq(connect(target))


@dlq_app.command(
    "list",
    epilog="**Examples**\n\n    payctl dlq list\n\n    payctl dlq list --reason ServiceException --json\n\n"
    "    payctl dlq list --where \"payment.amount == '12.34'\" --older-than 1h",
)
@stack_options
@filter_options
def dlq_list(
    filters: Filters,
    target: Target,
    limit: Annotated[int, typer.Option(min=1, help="Read at most this many messages.")] = 100,
    as_json: AsJson = False,
) -> None:
    """DLQ messages, read without consuming them: transaction, failure reason, receives, age, attributes."""
    messages = _dlq(target).read(limit, filters.selection())
    if as_json:
        print(views.messages_json(messages))
        return
    console.print(
        views.messages_table(messages, f"DLQ: {len(messages)} message(s) shown (read at most {limit})")
    )


@dlq_app.command(
    "show",
    epilog="**Examples**\n\n    payctl dlq show 0b6f2c1e-...\n\n    payctl dlq show 9d3a... --json",
)
@stack_options
def dlq_show(
    target: Target,
    ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Message ids or transaction ids.")],
    as_json: AsJson = False,
) -> int:
    """One or more DLQ messages in full: body, attributes, failure reason, payment status."""
    wanted = set(ids)
    messages = [
        m for m in _dlq(target).read(limit=10_000) if m.message_id in wanted or m.transaction_id in wanted
    ]
    if as_json:
        print(views.messages_json(messages))
    for m in [] if as_json else messages:
        console.print(views.message_table(m))
    missing = wanted - {m.message_id for m in messages} - {m.transaction_id for m in messages}
    if missing:
        errors.print(f"not in the DLQ: {', '.join(sorted(missing))}")
        return 1
    return 0


@dlq_app.command(
    "replay",
    epilog="**Examples**\n\n"
    "    payctl dlq replay --reason ServiceException --dry-run\n\n"
    "    payctl dlq replay --merchant m_123 --older-than 10m --max 50 --rate 5 --yes\n\n"
    "    payctl dlq replay --where \"payment.currency == 'EUR'\" --operator alice\n\n"
    "    payctl dlq replay --all --native --rate 10",
)
@stack_options
@filter_options
def dlq_replay(
    filters: Filters,
    target: Target,
    everything: All = False,
    dry_run: Annotated[bool, typer.Option(help="List exactly what would move; move nothing.")] = False,
    max_messages: Annotated[int | None, typer.Option("--max", min=1, help="Move at most this many.")] = None,
    rate: Annotated[
        float | None, typer.Option(min=0.1, help="At most this many messages per second.")
    ] = None,
    include_complete: Annotated[
        bool, typer.Option(help="Also replay messages whose payment is already complete (done).")
    ] = False,
    native: Annotated[
        bool, typer.Option(help="Use SQS's StartMessageMoveTask (every message; no filters) at --rate.")
    ] = False,
    operator: Operator = None,
    yes: Yes = False,
    as_json: AsJson = False,
) -> int:
    """Move selected DLQ messages back to the payments queue, body and attributes unchanged.

    Each is deleted from the DLQ only after its send succeeded, and gets an audit row on its
    payment (operator, old and new message id). Messages whose payment is already complete (a
    final status, the workflow's last write; what follows from it the stream delivers) are
    reported and left for `payctl dlq drop --complete`.
    """
    selection = filters.selection()
    require_choice(selection, everything, "replay")
    dlq = _dlq(target)
    if native:
        if not selection.everything or max_messages or dry_run:
            raise CommandError("--native moves every message; it takes no filter, --max or --dry-run")
        return _start_native_move(dlq, rate, yes)
    if dry_run:
        return _show_dry_run(dlq, selection, max_messages, include_complete, as_json)
    report = dlq.replay(
        selection,
        operator=_operator(operator),
        limit=max_messages,
        rate=rate,
        include_complete=include_complete,
        confirm=_confirm("replay", yes),
    )
    _print_report(report, as_json)
    if filters.message_ids and not report.selected and not report.complete:
        errors.print("none of the requested message ids is in the DLQ")
        return 1
    return 1 if report.failed else 0


def _start_native_move(dlq: Dlq, rate: float | None, yes: bool) -> int:
    if not yes and not _confirm_native():
        return 1
    handle = dlq.start_move_task(int(rate) if rate else None)
    console.print(f"Started move task {handle}; follow it with `payctl dlq tasks`.")
    return 0


def _show_dry_run(
    dlq: Dlq, selection: Selection, max_messages: int | None, include_complete: bool, as_json: bool
) -> int:
    messages = [m for m in dlq.read(limit=10_000) if selection(m)]
    movable = [m for m in messages if include_complete or not m.complete][:max_messages]
    if as_json:
        print(views.messages_json(movable))
    else:
        console.print(
            views.messages_table(movable, f"Would replay {len(movable)} message(s) (dry run: nothing moved)")
        )
    return 0


def _print_report(report: ReplayReport, as_json: bool) -> None:
    if as_json:
        print(views.report_json(report))
    else:
        console.print(views.moved_table(report))
        for line in views.not_replayed_lines(report):
            console.print(line)
    for m, error in report.failed:
        errors.print(f"could not replay {m.message_id}: {error}")


@dlq_app.command(
    "drop",
    epilog="**Examples**\n\n    payctl dlq drop --complete --yes\n\n"
    "    payctl dlq drop --message-id 0b6f2c1e-... --operator alice",
)
@stack_options
@filter_options
def dlq_drop(
    filters: Filters,
    target: Target,
    everything: All = False,
    complete: Annotated[
        bool,
        typer.Option(
            "--complete",
            help="Only messages whose payment is complete: SETTLED or DECLINED.",
            rich_help_panel=FILTERS_PANEL,
        ),
    ] = False,
    max_messages: Annotated[int | None, typer.Option("--max", min=1, help="Drop at most this many.")] = None,
    operator: Operator = None,
    yes: Yes = False,
) -> int:
    """Delete selected DLQ messages for good, after confirmation; each leaves an audit row."""
    selection = filters.selection(True if complete else None)
    require_choice(selection, everything, "drop")
    dropped = _dlq(target).drop(
        selection, operator=_operator(operator), limit=max_messages, confirm=_confirm_drop(yes)
    )
    console.print(f"Dropped {len(dropped)} message(s).")
    return 0


@dlq_app.command(
    "tasks", epilog="**Examples**\n\n    payctl dlq tasks\n\n    payctl dlq tasks --cancel eyJ0YXNr..."
)
@stack_options
def dlq_tasks(
    target: Target,
    cancel: Annotated[str | None, typer.Option(help="Cancel the running move task with this handle.")] = None,
    as_json: AsJson = False,
) -> None:
    """SQS move tasks of the DLQ (StartMessageMoveTask): list them, or cancel the running one."""
    dlq = _dlq(target)
    if cancel:
        moved = dlq.cancel_move_task(cancel)
        console.print(f"Cancelling {cancel}: {moved} message(s) moved so far.")
        return
    tasks = dlq.move_tasks()
    if as_json:
        print(json.dumps(tasks, indent=2, default=str))
        return
    console.print(views.tasks_table(tasks))
