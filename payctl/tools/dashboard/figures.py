"""The dashboards' figures, computed from GET /audit and GET /audit/counters with the dashboards' key.

Today's counts come from the day's counters (a few small reads); everything about the last hour
comes from that hour's audit rows, read page by page (``limit`` 1000), so its cost grows with the
hour's traffic, not with the table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from payctl.tools.api_client import ApiClient

# The audit actions that end a payment, by the outcome word GET /audit gives them.
TERMINAL_ACTIONS = {"payment.settled": "settled", "payment.declined": "declined", "payment.failed": "failed"}
_PAGE = 1000


class DashboardUnavailable(RuntimeError):
    """The audit API refused or failed (a wrong key gives 403)."""


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def audit_rows(
    client: ApiClient, since: datetime, until: datetime, **filters: str
) -> Iterator[dict[str, Any]]:
    params: dict[str, Any] = {"from": _iso(since), "to": _iso(until), "limit": _PAGE, **filters}
    while True:
        response = client.get("/audit", params=params)
        if response.status != 200:
            raise DashboardUnavailable(f"GET /audit: HTTP {response.status} {response.body[:200]!r}")
        body = response.json()
        yield from body["events"]
        if not body.get("next_token"):
            return
        params["next_token"] = body["next_token"]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Figures:
    day: str
    today: dict[str, int]
    last_hour: dict[str, int]
    per_minute: list[tuple[str, int]]
    latency_p50: float | None
    latency_p95: float | None
    latencies: list[float]
    decline_rate: float | None
    top_reasons: list[tuple[str, int]]
    latest_failures: list[dict[str, Any]]
    dlq_depth: int | None = None
    generated_at: str = field(default_factory=lambda: _iso(datetime.now(UTC)))


def _at(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(row["at"].replace("Z", "+00:00"))


def compute(client: ApiClient, *, now: datetime | None = None, dlq_depth: int | None = None) -> Figures:
    now = now or datetime.now(UTC)
    day = now.strftime("%Y-%m-%d")
    response = client.get("/audit/counters", params={"day": day})
    if response.status != 200:
        raise DashboardUnavailable(f"GET /audit/counters: HTTP {response.status} {response.body[:200]!r}")
    counters = response.json()["counters"]
    today = {word: int(counters.get(action, 0)) for action, word in TERMINAL_ACTIONS.items()}
    today["received"] = int(counters.get("payment.received", 0))

    since = now - timedelta(hours=1)
    terminal: list[dict[str, Any]] = []
    for action in TERMINAL_ACTIONS:
        terminal.extend(audit_rows(client, since, now, action=action))
    received = {
        row["transaction_id"]: _at(row)
        for row in audit_rows(client, since - timedelta(hours=1), now, action="payment.received")
    }
    last_hour = Counter(TERMINAL_ACTIONS[row["action"]] for row in terminal)
    per_minute = Counter(_at(row).strftime("%H:%M") for row in terminal)
    latencies = [
        (_at(row) - received[row["transaction_id"]]).total_seconds()
        for row in terminal
        if row["transaction_id"] in received
    ]
    decided = last_hour["settled"] + last_hour["declined"]
    reasons: Counter[str] = Counter()
    for row in terminal:
        if row["action"] == "payment.declined":
            reasons.update(str(reason) for reason in (row.get("detail") or {}).get("reasons", []))
    failures = sorted((row for row in terminal if row["action"] == "payment.failed"), key=lambda r: r["at"])
    return Figures(
        day=day,
        today=today,
        last_hour={word: last_hour.get(word, 0) for word in TERMINAL_ACTIONS.values()},
        per_minute=sorted(per_minute.items()),
        latency_p50=percentile(latencies, 0.5),
        latency_p95=percentile(latencies, 0.95),
        latencies=latencies,
        decline_rate=last_hour["declined"] / decided if decided else None,
        top_reasons=reasons.most_common(5),
        latest_failures=[
            {
                "at": row["at"],
                "transaction_id": row["transaction_id"],
                "error": (row.get("detail") or {}).get("error", ""),
            }
            for row in failures[-10:]
        ][::-1],
        dlq_depth=dlq_depth,
    )
