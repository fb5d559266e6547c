"""How the DLQ commands show messages, replay reports and move tasks: rich tables or JSON."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table

from payctl.tools.operator.dlq import DlqMessage, ReplayReport


def _age(message: DlqMessage) -> str:
    age = message.age
    if age is None:
        return "-"
    seconds = int(age.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def messages_table(messages: list[DlqMessage], title: str) -> Table:
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


def message_table(message: DlqMessage) -> Table:
    table = Table(title=f"DLQ message {message.message_id}", show_header=False)
    table.add_column("Field", style="bold")
    table.add_column("Value", overflow="fold")
    for name, value in message.view().items():
        if name == "body":
            value = json.dumps(message.document, indent=2) if message.document is not None else message.body
        table.add_row(name, value if isinstance(value, str) else json.dumps(value))
    return table


def messages_json(messages: list[DlqMessage]) -> str:
    return json.dumps([m.view() for m in messages], indent=2)


def report_json(report: ReplayReport) -> str:
    return json.dumps(
        {
            "moved": [
                {"old_message_id": m.message_id, "new_message_id": new, "transaction_id": m.transaction_id}
                for m, new in report.moved
            ],
            "complete": [m.view() for m in report.complete],
            "failed": [{"message_id": m.message_id, "error": e} for m, e in report.failed],
        },
        indent=2,
    )


def moved_table(report: ReplayReport) -> Table:
    moved = Table(title=f"Replayed {len(report.moved)} message(s) to the payments queue", header_style="bold")
    for column in ("Old message id", "New message id", "Transaction id"):
        moved.add_column(column, overflow="fold")
    for m, new in report.moved:
        moved.add_row(m.message_id, new, m.transaction_id or "-")
    return moved


def not_replayed_lines(report: ReplayReport) -> list[str]:
    return [
        f"{m.message_id}: payment {m.transaction_id} is already {m.payment_status}; not replayed"
        " (remove it with `payctl dlq drop --complete`)"
        for m in report.complete
    ]


def tasks_table(tasks: list[dict[str, Any]]) -> Table:
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
    return table
