"""The audit trail's rows, derived from the transactions stream's new images alone."""

from decimal import Decimal

from payments_core.audit_trail import state_change_events, trail_rows
from payments_core.dynamo import serialize

TID = "6b0e3c1e-0000-5000-8000-000000000009"
RECEIVED = {
    "transaction_id": TID,
    "status": "RECEIVED",
    "merchant_id": "m_1",
    "amount": Decimal("12.3"),
    "currency": "USD",
    "submitter": "key-1",
    "created_at": "2026-03-01T10:00:00.000000Z",
    "updated_at": "2026-03-01T10:00:00.000000Z",
}
CHECKS = {
    "validation": {"outcome": "PASS", "reasons": [], "checked_at": "2026-03-01T10:00:01.000000Z"},
    "fraud": {
        "outcome": "DECLINE",
        "score": "0.80",
        "reasons": ["velocity_high"],
        "checked_at": "2026-03-01T10:00:02.000000Z",
    },
}


def stream_record(image, sequence="1"):
    return {"eventName": "MODIFY", "dynamodb": {"SequenceNumber": sequence, "NewImage": serialize(image)}}


def keyed(image):
    return {
        f"{event.step}#{event.event}": (event.action, at, event.detail)
        for event, at in state_change_events(image)
    }


def test_the_put_of_a_received_payment_is_its_received_row_at_its_receive_time():
    assert keyed(RECEIVED) == {
        "ingest#received": (
            "payment.received",
            "2026-03-01T10:00:00.000000Z",
            {"merchant_id": "m_1", "amount": "12.30", "currency": "USD", "submitter": "key-1"},
        )
    }


def test_a_decline_is_the_checks_rows_at_their_own_times_then_the_decline():
    declined = {
        **RECEIVED,
        **CHECKS,
        "status": "DECLINED",
        "decline_reasons": ["fraud_risk_too_high", "velocity_high"],
        "updated_at": "2026-03-01T10:00:03.000000Z",
    }

    assert keyed(declined) == {
        "validation#completed": (
            "validation.passed",
            "2026-03-01T10:00:01.000000Z",
            {"outcome": "PASS", "reasons": []},
        ),
        "fraud#completed": (
            "fraud.declined",
            "2026-03-01T10:00:02.000000Z",
            {"outcome": "DECLINE", "score": "0.80", "reasons": ["velocity_high"]},
        ),
        "settlement#declined": (
            "payment.declined",
            "2026-03-01T10:00:03.000000Z",
            {"reasons": ["fraud_risk_too_high", "velocity_high"]},
        ),
    }


def test_a_settlement_row_shows_the_amounts_in_the_currencys_minor_units():
    settled = {
        **RECEIVED,
        **CHECKS,
        "status": "SETTLED",
        "settlement": {
            "amount": Decimal("12.3"),
            "currency": "USD",
            "fee": Decimal("0.66"),
            "net": Decimal("11.64"),
            "settled_at": "2026-03-01T10:00:03.000000Z",
        },
        "updated_at": "2026-03-01T10:00:03.000000Z",
    }

    action, at, detail = keyed(settled)["settlement#settled"]

    assert (action, at) == ("payment.settled", "2026-03-01T10:00:03.000000Z")
    assert detail == {"amount": "12.30", "currency": "USD", "fee": "0.66", "net": "11.64", "settled_at": at}


def test_each_failed_attempt_is_its_own_row():
    failed = {
        **RECEIVED,
        "status": "FAILED",
        "failure": {"error": "DependencyError", "cause": "throttled", "execution": f"{TID}-3"},
        "updated_at": "2026-03-01T10:00:05.000000Z",
    }

    assert keyed(failed) == {
        f"settlement#failed#{TID}-3": (
            "payment.failed",
            "2026-03-01T10:00:05.000000Z",
            {"error": "DependencyError", "cause": "throttled"},
        )
    }


def test_an_image_that_is_not_a_payment_state_stands_for_no_row():
    assert state_change_events({"transaction_id": TID, "status": "PENDING"}) == []
    assert state_change_events({"status": "RECEIVED"}) == []


def test_a_redelivered_record_derives_the_same_rows_with_the_same_index_keys():
    """A retried batch puts identical rows: nothing in a row depends on when it is derived."""
    records = [stream_record(RECEIVED, "1"), stream_record({**RECEIVED, **CHECKS, "status": "DECLINED"}, "2")]

    first, again = trail_rows(records, 16).rows, trail_rows(records, 16).rows

    assert first == again
    assert [row["sk"] for row in first] == [
        "ingest#received",
        "validation#completed",
        "fraud#completed",
        "settlement#declined",
    ]
    assert all(row["gsi1pk"].startswith("2026-03-01#") for row in first)


def test_an_item_no_state_change_can_leave_is_skipped_and_named_not_a_blocked_shard():
    """A SETTLED item without its settlement (a hand edit) must not hold up every later row."""
    broken = {**RECEIVED, "status": "SETTLED", "transaction_id": "tx-broken"}
    records = [stream_record(broken, "1"), stream_record(RECEIVED, "2")]

    trail = trail_rows(records, 16)

    assert trail.unreadable == ["tx-broken"]
    assert [row["sk"] for row in trail.rows] == ["ingest#received"]
