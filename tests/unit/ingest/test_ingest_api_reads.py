"""GET /payments/{id}, its audit trail, and the dashboard reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from payments_core.audit import AuditEvent
from payments_core.ids import transaction_id

TID = transaction_id("key-alpha", "order-1")
DASHBOARD_API_KEY_ID = "key-dashboards"  # listed in DASHBOARD_API_KEY_IDS by the ingest conftest


def recorded(tid: str = TID, **changes) -> dict:
    """A transaction item as the consumer and the workflow steps leave it in DynamoDB."""
    return {
        "transaction_id": tid,
        "status": "SETTLED",
        "merchant_id": "m_123",
        "customer_id": "c_42",
        "amount": Decimal("1200"),
        "currency": "JPY",
        "reference": "order-1001",
        "payment_method": {"type": "card", "token": "tok_visa_4242", "last4": "4242", "brand": "visa"},
        "submitter": "key-alpha",
        "idempotency_key": "order-1",
        "payload_hash": "abc",
        "validation": {"outcome": "PASS", "reasons": [], "checked_at": "2026-01-01T00:00:00.100000Z"},
        "fraud": {
            "outcome": "APPROVE",
            "score": Decimal("0.12"),
            "reasons": [],
            "checked_at": "2026-01-01T00:00:00.2Z",
        },
        "settlement": {"settled_at": "2026-01-01T00:00:01Z", "fee": Decimal("3.5")},
        "created_at": "2026-01-01T00:00:00.000000Z",
        "updated_at": "2026-01-01T00:00:01.000000Z",
        **changes,
    }


def test_payment_not_recorded_yet_is_404_saying_it_may_not_be_visible_yet(client, ports):
    """Given a payment accepted but not yet picked up by the consumer, Then 404 that explains the window."""
    response = client.call("GET", f"/payments/{TID}")

    assert response.status == 404
    assert response.body["error"]["code"] == "transaction_not_found"
    assert "visible once the queue consumer has recorded it" in response.body["error"]["message"]


def test_recorded_payment_is_returned_with_exact_strings(client, ports):
    ports.transactions.items[TID] = recorded()

    response = client.call("GET", f"/payments/{TID}")

    assert response.status == 200
    body = response.body
    assert body["transaction_id"] == TID and body["status"] == "SETTLED"
    assert body["amount"] == "1200" and body["currency"] == "JPY"
    assert body["fraud"]["score"] == "0.12"
    assert body["settlement"]["fee"] == "3.5"
    assert body["decline_reasons"] == []
    assert body["payment_method"] == {"type": "card", "brand": "visa", "last4": "4242", "country": None}
    assert (body["created_at"], body["updated_at"]) == (
        "2026-01-01T00:00:00.000000Z",
        "2026-01-01T00:00:01.000000Z",
    )


def test_amount_keeps_the_currency_minor_units(client, ports):
    ports.transactions.items[TID] = recorded(amount=Decimal("1.5"), currency="KWD")

    assert client.call("GET", f"/payments/{TID}").body["amount"] == "1.500"


def test_declined_payment_lists_its_reasons(client, ports):
    ports.transactions.items[TID] = recorded(status="DECLINED", decline_reasons=["fraud_score_too_high"])

    body = client.call("GET", f"/payments/{TID}").body

    assert body["status"] == "DECLINED" and body["decline_reasons"] == ["fraud_score_too_high"]


def test_another_api_key_gets_the_same_404_as_for_a_missing_payment(client, ports):
    """Given a payment of key-alpha, When key-beta reads it, Then 404 indistinguishable from a missing one."""
    ports.transactions.items[TID] = recorded()
    missing = client.call("GET", f"/payments/{transaction_id('key-beta', 'nothing')}", api_key_id="key-beta")

    response = client.call("GET", f"/payments/{TID}", api_key_id="key-beta")

    assert response.status == 404
    assert response.body == missing.body


def test_id_that_is_not_a_uuid_is_404(client, ports):
    assert client.call("GET", "/payments/not-a-uuid").status == 404


def test_audit_trail_is_returned_in_time_order_to_the_owner_only(client, ports):
    ports.transactions.items[TID] = recorded()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for offset, step in ((2, "settlement"), (0, "ingest"), (1, "fraud")):
        ports.audit.append(
            AuditEvent(TID, step, "done", f"{step}.done", step, {"n": Decimal("1.0")}),
            at=start + timedelta(seconds=offset),
        )

    response = client.call("GET", f"/payments/{TID}/audit")
    stranger = client.call("GET", f"/payments/{TID}/audit", api_key_id="key-beta")

    assert response.status == 200
    assert response.body["transaction_id"] == TID
    assert [e["actor"] for e in response.body["events"]] == ["ingest", "fraud", "settlement"]
    assert set(response.body["events"][0]) == {"at", "action", "actor", "detail"}
    assert response.body["events"][0]["detail"] == {"n": "1.0"}
    assert stranger.status == 404


def test_audit_range_defaults_to_the_last_hour_and_100_rows(client, ports):
    response = client.call("GET", "/audit", api_key_id=DASHBOARD_API_KEY_ID)

    assert response.status == 200
    assert response.body == {"events": [], "next_token": None}
    (call,) = ports.audit.range_calls
    assert call["end"] - call["start"] == timedelta(hours=1)
    assert call["limit"] == 100 and call["action"] is None and call["next_token"] is None


def test_audit_range_passes_filters_through(client, ports):
    query = {
        "from": "2026-01-01T00:00:00Z",
        "to": "2026-01-01T06:00:00+00:00",
        "action": "payment.settled",
        "outcome": "SETTLED",
        "limit": "1000",
        "next_token": "abc",
    }

    assert client.call("GET", "/audit", query=query, api_key_id=DASHBOARD_API_KEY_ID).status == 200

    (call,) = ports.audit.range_calls
    assert call["start"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert call["end"] == datetime(2026, 1, 1, 6, tzinfo=UTC)
    assert (call["action"], call["outcome"], call["limit"], call["next_token"]) == (
        "payment.settled",
        "SETTLED",
        1000,
        "abc",
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"from": "yesterday"}, "from"),
    ],
    ids=["limit-0", "limit-1001", "limit-text", "bad-from"],
)
def test_bad_audit_query_is_400_naming_the_parameter(client, ports, query, field):
    response = client.call("GET", "/audit", query=query, api_key_id=DASHBOARD_API_KEY_ID)

    assert response.status == 400
    assert response.body["error"]["code"] == "invalid_request"
    assert response.body["error"]["field"] == field


def test_audit_counters_for_a_day(client, ports):
    response = client.call(
        "GET", "/audit/counters", query={"day": "2026-01-01"}, api_key_id=DASHBOARD_API_KEY_ID
    )
    bad = client.call("GET", "/audit/counters", query={"day": "2026-13-45"}, api_key_id=DASHBOARD_API_KEY_ID)

    assert response.status == 200
    assert response.body == {"day": "2026-01-01", "counters": {"payment.received": 0}}
    assert bad.status == 400 and bad.body["error"]["field"] == "day"


@pytest.mark.parametrize("path", ["/audit", "/audit/counters?day=2026-01-01"])
def test_only_dashboard_keys_read_every_payments_audit(client, ports, monkeypatch, reset_settings, path):
    """Given a submitter's key, the audit range is 403; a second listed dashboard key reads it."""
    route, _, query = path.partition("?")
    params = dict([query.split("=")]) if query else {}

    submitter = client.call("GET", route, query=params)
    second_dashboard = client.call("GET", route, query=params, api_key_id="key-second-dashboard")
    monkeypatch.delenv("DASHBOARD_API_KEY_IDS")
    reset_settings()
    none_configured = client.call("GET", route, query=params, api_key_id=DASHBOARD_API_KEY_ID)

    assert submitter.status == 403
    assert submitter.body == {
        "error": {
            "code": "forbidden",
            "message": "only a dashboard API key may read the audit of every payment",
        }
    }
    assert second_dashboard.status == 200
    assert none_configured.status == 403  # no dashboard key configured: nobody reads the range
    assert len(ports.audit.range_calls) == (1 if route == "/audit" else 0)  # the permitted call only
