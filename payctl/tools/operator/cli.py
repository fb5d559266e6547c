"""``payctl dlq``: list, show, replay, drop, and SQS's own move tasks."""

from __future__ import annotations

import getpass
import json
import re
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from payctl.tools.operator.dlq import Dlq, DlqMessage, Selection
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
from payctl.tools.stack_file import DEFAULT_STATE_FILE

dlq_app = typer.Typer(
    help="Inspect, replay and drop the dead-letter queue's messages; SQS's own move tasks.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

_FILTERS = "Which messages"
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

MessageIds = Annotated[
    list[str] | None,
    typer.Option("--message-id", help="A DLQ message id (repeatable).", rich_help_panel=_FILTERS),
]
TransactionIds = Annotated[
    list[str] | None,
    typer.Option(
        "--transaction-id", help="A payment's transaction id (repeatable).", rich_help_panel=_FILTERS
    ),
]
Reason = Annotated[
    str | None,
    typer.Option(
        help="Failure reason from the audit trail contains this text (any case).", rich_help_panel=_FILTERS
    ),
]
Merchant = Annotated[str | None, typer.Option(help="The payment's merchant_id.", rich_help_panel=_FILTERS)]
OlderThan = Annotated[
    str | None, typer.Option(help="Sent longer ago than this: 90s, 30m, 2h, 7d.", rich_help_panel=_FILTERS)
]
NewerThan = Annotated[
    str | None, typer.Option(help="Sent more recently than this.", rich_help_panel=_FILTERS)
]
Where = Annotated[
    str | None,
    typer.Option(
        help="A JMESPath predicate over the message body, e.g. \"payment.currency == 'EUR'\".",
        rich_help_panel=_FILTERS,
    ),
]
All = Annotated[
    bool,
    typer.Option("--all", help="Every message (needed when no filter is given).", rich_help_panel=_FILTERS),
]
Operator = Annotated[
    str | None,
    typer.Option(envvar="PAYCTL_OPERATOR", help="Who acts, for the audit rows (default: the OS user)."),
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _duration(text: str | None, option: str) -> timedelta | None:
    if text is None:
        return None
    match = _DURATION.match(text.strip())
    if not match:
        raise CommandError(f"{option} takes a duration like 90s, 30m, 2h or 7d, got {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _selection(
    message_ids: list[str] | None,
    transaction_ids: list[str] | None,
    reason: str | None,
    merchant: str | None,
    older_than: str | None,
    newer_than: str | None,
    where: str | None,
    complete: bool | None = None,
) -> Selection:
    import jmespath.exceptions

    try:
        return Selection(
            message_ids=frozenset(message_ids or ()),
            transaction_ids=frozenset(transaction_ids or ()),
            reason=reason,
            merchant_id=merchant,
            older_than=_duration(older_than, "--older-than"),
            newer_than=_duration(newer_than, "--newer-than"),
            where=where,
            complete=complete,
        )
    except jmespath.exceptions.JMESPathError as exc:
        raise CommandError(f"--where is not a JMESPath expression: {exc}") from exc


def _require_choice(selection: Selection, everything: bool, verb: str) -> None:
    if selection.everything and not everything:
        raise CommandError(
            f"say which messages to {verb}: --all or --message-id ID (or --transaction-id, --reason,"
            " --merchant, --older-than, --newer-than, --where)"
        )


def _age(message: DlqMessage) -> str:
    age = message.age
    if age is None:
        return "-"
    seconds = int(age.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _table(messages: list[DlqMessage], title: str) -> Table:
    table = Table(title=title, header_style="bold")
    for column in ("Message id", "Transaction id", "Merchant", "Failure reason", "Receives", "Age", "Status"):
        table.add_column(column, overflow="fold")
    for m in messages:
        table.add_row(
            m.message_id,
            m.transaction_id or "-",
            m.merchant_id or "-",
            (m.failure_reason or "-")[:60],
            str(m.source_receive_count),
            _age(m),
            m.payment_status or "-",
        )
    return table


def _confirm(verb: str, yes: bool) -> object:
    def confirm(messages: list[DlqMessage]) -> bool:
        if yes or len(messages) == 1:
            return True
        console.print(_table(messages, f"{len(messages)} message(s) to {verb}"))
        if not sys.stdin.isatty():
            raise CommandError(
                f"{len(messages)} messages would {verb}; confirm with --yes (no terminal to ask on)"
            )
        return typer.confirm(f"{verb.capitalize()} these {len(messages)} messages?")

    return confirm


def _operator(name: str | None) -> str:
    return name or getpass.getuser()


def _dlq(
    state_file: Path,
    stack_name: str | None,
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
) -> Dlq:
    return Dlq(connect(target(state_file, stack_name, region, profile, endpoint_url)))


@dlq_app.command(
    "list",
    epilog="**Examples**\n\n    payctl dlq list\n\n    payctl dlq list --reason ServiceException --json\n\n"
    "    payctl dlq list --where \"payment.amount == '12.34'\" --older-than 1h",
)
def dlq_list(
    limit: Annotated[int, typer.Option(min=1, help="Read at most this many messages.")] = 100,
    message_ids: MessageIds = None,
    transaction_ids: TransactionIds = None,
    reason: Reason = None,
    merchant: Merchant = None,
    older_than: OlderThan = None,
    newer_than: NewerThan = None,
    where: Where = None,
    as_json: AsJson = False,
    state_file: StateFile = DEFAULT_STATE_FILE,
    stack_name: StackName = None,
    region: Region = None,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
) -> None:
    """DLQ messages, read without consuming them: transaction, failure reason, receives, age, attributes."""
    selection = _selection(message_ids, transaction_ids, reason, merchant, older_than, newer_than, where)
    messages = _dlq(state_file, stack_name, region, profile, endpoint_url).read(limit, selection)
    if as_json:
        print(json.dumps([m.view() for m in messages], indent=2))
        return
    console.print(_table(messages, f"DLQ: {len(messages)} message(s) shown (read at most {limit})"))


@dlq_app.command(
    "show",
    epilog="**Examples**\n\n    payctl dlq show 0b6f2c1e-...\n\n    payctl dlq show 9d3a... --json",
)
def dlq_show(
    ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Message ids or transaction ids.")],
    as_json: AsJson = False,
    state_file: StateFile = DEFAULT_STATE_FILE,
    stack_name: StackName = None,
    region: Region = None,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
) -> int:
    """One or more DLQ messages in full: body, attributes, failure reason, payment status."""
    wanted = set(ids)
    messages = [
        m
        for m in _dlq(state_file, stack_name, region, profile, endpoint_url).read(limit=10_000)
        if m.message_id in wanted or m.transaction_id in wanted
    ]
    if as_json:
        print(json.dumps([m.view() for m in messages], indent=2))
    for m in [] if as_json else messages:
        table = Table(title=f"DLQ message {m.message_id}", show_header=False)
        table.add_column("Field", style="bold")
        table.add_column("Value", overflow="fold")
        for name, value in m.view().items():
            if name == "body":
                value = json.dumps(m.document, indent=2) if m.document is not None else m.body
            table.add_row(name, value if isinstance(value, str) else json.dumps(value))
        console.print(table)
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
def dlq_replay(
    everything: All = False,
    message_ids: MessageIds = None,
    transaction_ids: TransactionIds = None,
    reason: Reason = None,
    merchant: Merchant = None,
    older_than: OlderThan = None,
    newer_than: NewerThan = None,
    where: Where = None,
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
    state_file: StateFile = DEFAULT_STATE_FILE,
    stack_name: StackName = None,
    region: Region = None,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
) -> int:
    """Move selected DLQ messages back to the payments queue, body and attributes unchanged.

    Each is deleted from the DLQ only after its send succeeded, and gets an audit row on its
    payment (operator, old and new message id). Messages whose payment is already complete (a
    final status and the final step's last audit row: every effect exists) are reported and left
    for `payctl dlq drop --complete`; a final status with an effect missing is replayed, and the
    re-run completes it.
    """
    selection = _selection(message_ids, transaction_ids, reason, merchant, older_than, newer_than, where)
    _require_choice(selection, everything, "replay")
    dlq = _dlq(state_file, stack_name, region, profile, endpoint_url)
    if native:
        if not selection.everything or max_messages or dry_run:
            raise CommandError("--native moves every message; it takes no filter, --max or --dry-run")
        if not yes and not _confirm_native():
            return 1
        handle = dlq.start_move_task(int(rate) if rate else None)
        console.print(f"Started move task {handle}; follow it with `payctl dlq tasks`.")
        return 0
    if dry_run:
        messages = [m for m in dlq.read(limit=10_000) if selection(m)]
        movable = [m for m in messages if include_complete or not m.complete][:max_messages]
        if as_json:
            print(json.dumps([m.view() for m in movable], indent=2))
        else:
            console.print(_table(movable, f"Would replay {len(movable)} message(s) (dry run: nothing moved)"))
        return 0
    report = dlq.replay(
        selection,
        operator=_operator(operator),
        limit=max_messages,
        rate=rate,
        include_complete=include_complete,
        confirm=_confirm("replay", yes),  # type: ignore[arg-type]
    )
    if as_json:
        print(
            json.dumps(
                {
                    "moved": [
                        {
                            "old_message_id": m.message_id,
                            "new_message_id": new,
                            "transaction_id": m.transaction_id,
                        }
                        for m, new in report.moved
                    ],
                    "complete": [m.view() for m in report.complete],
                    "failed": [{"message_id": m.message_id, "error": e} for m, e in report.failed],
                },
                indent=2,
            )
        )
    else:
        moved = Table(
            title=f"Replayed {len(report.moved)} message(s) to the payments queue", header_style="bold"
        )
        for column in ("Old message id", "New message id", "Transaction id"):
            moved.add_column(column, overflow="fold")
        for m, new in report.moved:
            moved.add_row(m.message_id, new, m.transaction_id or "-")
        console.print(moved)
        for m in report.complete:
            console.print(
                f"{m.message_id}: payment {m.transaction_id} is already {m.payment_status}; not replayed"
                " (remove it with `payctl dlq drop --complete`)"
            )
    for m, error in report.failed:
        errors.print(f"could not replay {m.message_id}: {error}")
    if message_ids and not report.selected and not report.complete:
        errors.print("none of the requested message ids is in the DLQ")
        return 1
    return 1 if report.failed else 0


def _confirm_native() -> bool:
    if not sys.stdin.isatty():
        raise CommandError("a native move task moves every message; confirm with --yes")
    return typer.confirm("Move every DLQ message back to the payments queue?")


@dlq_app.command(
    "drop",
    epilog="**Examples**\n\n    payctl dlq drop --complete --yes\n\n"
    "    payctl dlq drop --message-id 0b6f2c1e-... --operator alice",
)
def dlq_drop(
    everything: All = False,
    message_ids: MessageIds = None,
    transaction_ids: TransactionIds = None,
    reason: Reason = None,
    merchant: Merchant = None,
    older_than: OlderThan = None,
    newer_than: NewerThan = None,
    where: Where = None,
    complete: Annotated[
        bool,
        typer.Option(
            "--complete",
            help="Only messages whose payment is complete: SETTLED or DECLINED with its last audit row.",
            rich_help_panel=_FILTERS,
        ),
    ] = False,
    max_messages: Annotated[int | None, typer.Option("--max", min=1, help="Drop at most this many.")] = None,
    operator: Operator = None,
    yes: Yes = False,
    state_file: StateFile = DEFAULT_STATE_FILE,
    stack_name: StackName = None,
    region: Region = None,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
) -> int:
    """Delete selected DLQ messages for good, after confirmation; each leaves an audit row."""
    selection = _selection(
        message_ids,
        transaction_ids,
        reason,
        merchant,
        older_than,
        newer_than,
        where,
        True if complete else None,
    )
    _require_choice(selection, everything, "drop")
    dlq = _dlq(state_file, stack_name, region, profile, endpoint_url)

    def confirm(messages: list[DlqMessage]) -> bool:
        # A drop cannot be undone: ask even for one message.
        if yes:
            return True
        console.print(_table(messages, f"{len(messages)} message(s) to drop for good"))
        if not sys.stdin.isatty():
            raise CommandError(f"{len(messages)} message(s) would be dropped; confirm with --yes")
        return typer.confirm(f"Drop these {len(messages)} messages for good?")

    dropped = dlq.drop(selection, operator=_operator(operator), limit=max_messages, confirm=confirm)
    console.print(f"Dropped {len(dropped)} message(s).")
    return 0


@dlq_app.command(
    "tasks", epilog="**Examples**\n\n    payctl dlq tasks\n\n    payctl dlq tasks --cancel eyJ0YXNr..."
)
def dlq_tasks(
    cancel: Annotated[str | None, typer.Option(help="Cancel the running move task with this handle.")] = None,
    as_json: AsJson = False,
    state_file: StateFile = DEFAULT_STATE_FILE,
    stack_name: StackName = None,
    region: Region = None,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
) -> None:
    """SQS move tasks of the DLQ (StartMessageMoveTask): list them, or cancel the running one."""
    dlq = _dlq(state_file, stack_name, region, profile, endpoint_url)
    if cancel:
        moved = dlq.cancel_move_task(cancel)
        console.print(f"Cancelling {cancel}: {moved} message(s) moved so far.")
        return
    tasks = dlq.move_tasks()
    if as_json:
        print(json.dumps(tasks, indent=2, default=str))
        return
    table = Table(title="Move tasks of the DLQ (most recent first)", header_style="bold")
    for column in ("Task handle", "Status", "Moved", "To move", "Rate", "Started", "Failure"):
        table.add_column(column, overflow="fold")
    for task in tasks:
        table.add_row(
            task.get("TaskHandle", "-"),
            task.get("Status", "-"),
            str(task.get("ApproximateNumberOfMessagesMoved", "-")),
            str(task.get("ApproximateNumberOfMessagesToMove", "-")),
            str(task.get("MaxNumberOfMessagesPerSecond", "-")),
            str(task.get("StartedTimestamp", "-")),
            task.get("FailureReason", ""),
        )
    console.print(table)
