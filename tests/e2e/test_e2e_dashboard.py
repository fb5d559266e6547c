"""payctl dashboard against the running stack: its figures equal a direct count in the audit table."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

from payctl.tools.dashboard.figures import TERMINAL_ACTIONS


def _terminal_rows(aws, table):
    rows = []
    paginator = aws("dynamodb").get_paginator("scan")
    for page in paginator.paginate(
        TableName=table,
        FilterExpression="#action IN (:s, :d, :f)",
        ExpressionAttributeNames={"#action": "action", "#at": "at"},
        ExpressionAttributeValues={
            ":s": {"S": "payment.settled"},
            ":d": {"S": "payment.declined"},
            ":f": {"S": "payment.failed"},
        },
        ProjectionExpression="#action, #at",
    ):
        rows.extend((item["action"]["S"], item["at"]["S"]) for item in page["Items"])
    return rows


def counted_today(api, aws, wait, table, dashboard_key) -> Counter[str]:
    """Today's terminal rows counted directly, once the day's counters agree with them.

    The counters are added up from the audit table's stream, a few seconds behind the rows.
    """
    day = datetime.now(UTC).strftime("%Y-%m-%d")

    def caught_up():
        direct = Counter(action for action, at in _terminal_rows(aws, table) if at.startswith(day))
        counters = api.get(f"/audit/counters?day={day}", api_key=dashboard_key).json()["counters"]
        return direct if all(counters.get(a, 0) == direct[a] for a in TERMINAL_ACTIONS) else None

    return wait(caught_up, timeout=60, interval=1, what="the counters to count every row")


def test_the_dashboards_totals_equal_a_direct_count(
    local_stack, api, api_key, aws, payment, payctl, queue_drained, wait, wait_for_status, wait_for_audit
):
    items = [{"idempotency_key": f"dash-{n}-{payment()['reference']}", **payment()} for n in range(3)]
    items.append(
        {"idempotency_key": f"dash-x-{payment()['reference']}", **payment(currency="JPY", amount="10")}
    )
    results = api.post("/payments/batch", {"payments": items}).json()["results"]
    for result in results:
        final = wait_for_status(result["transaction_id"])["status"]
        # The rows follow the statuses through the stream: wait for this payment's last one.
        wait_for_audit(result["transaction_id"], f"payment.{final.lower()}")
    queue_drained()
    table = local_stack.outputs["AuditTableName"]
    dashboard_key = local_stack.api_key_value("DashboardApiKeyId")

    def quiet():
        """The figures, and the direct count, once no row landed while the dashboard read them
        (an earlier test's rows can still be following their statuses)."""
        direct_today = counted_today(api, aws, wait, table, dashboard_key)
        figures = json.loads(payctl("dashboard", "--json").stdout)
        rows = _terminal_rows(aws, table)
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        if Counter(action for action, at in rows if at.startswith(today)) != direct_today:
            return None
        return figures, direct_today, rows

    figures, direct_today, rows = wait(quiet, timeout=60, interval=1, what="a quiet moment to compare")

    generated = datetime.fromisoformat(figures["generated_at"].replace("Z", "+00:00"))
    since = (generated - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    direct_hour = Counter(action for action, at in rows if at >= since)
    assert figures["today"] == {
        **{w: direct_today[a] for a, w in TERMINAL_ACTIONS.items()},
        "received": figures["today"]["received"],
    }
    assert figures["last_hour"] == {w: direct_hour[a] for a, w in TERMINAL_ACTIONS.items()}
    assert sum(count for _, count in figures["per_minute"]) == sum(direct_hour.values())
    assert figures["last_hour"]["declined"] >= 1 and figures["top_reasons"]
    assert figures["latency_p50"] is not None and figures["latency_p95"] >= figures["latency_p50"]
    assert figures["dlq_depth"] == 0
