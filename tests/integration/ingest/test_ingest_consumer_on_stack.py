"""The ingest consumer handler on the local stack: real tables, real audit writer, real workflow."""

from __future__ import annotations

import json

from tests.factories import fresh_payment as payment


def accepted_messages(ingest, count: int = 1) -> list[dict]:
    """Payments accepted through the API, taken off the queue as Lambda would receive them."""
    for i in range(count):
        assert ingest.post(f"c-{i}", payment()).status == 202
    return ingest.receive_all()


def test_first_delivery_creates_the_item_and_its_received_audit_row(ingest):
    (message,) = accepted_messages(ingest)
    tid = json.loads(message["Body"])["transaction_id"]

    failures = ingest.consume([message])

    assert failures == []
    item = ingest.transaction(tid)
    assert item["submitter"] == ingest.api_key_id and item["idempotency_key"] == "c-0"
    assert item["created_at"] == json.loads(message["Body"])["received_at"]
    assert item["status"] == "SETTLED", "the workflow ran to its outcome"
    received = [row for row in ingest.audit_rows(tid) if row["sk"] == "ingest#received"]
    assert len(received) == 1
    assert received[0]["action"] == "payment.received" and received[0]["actor"] == "ingest"


def test_duplicate_delivery_writes_no_second_item_or_audit_row(ingest):
    (message,) = accepted_messages(ingest)
    tid = json.loads(message["Body"])["transaction_id"]
    ingest.consume([message])
    rows_before = ingest.audit_rows(tid)
    item_before = ingest.transaction(tid)

    failures = ingest.consume([{**message, "MessageId": "redelivered-1"}])

    assert failures == []
    assert ingest.transaction(tid) == item_before
    assert len(ingest.audit_rows(tid)) == len(rows_before)
    assert len([r for r in ingest.audit_rows(tid) if r["sk"].startswith("ingest#")]) == 1


def test_poison_record_is_reported_failed_while_good_records_are_not(ingest):
    good = accepted_messages(ingest, count=2)
    ingest.send_raw('{"transaction_id": "not a payment"')
    (poison,) = ingest.receive_all()

    failures = ingest.consume([good[0], poison, good[1]])

    assert failures == [poison["MessageId"]]
    for message in good:
        assert ingest.transaction(json.loads(message["Body"])["transaction_id"]) is not None


def test_conflicting_payload_under_a_recorded_id_is_audited_and_not_retried(ingest):
    (message,) = accepted_messages(ingest)
    ingest.consume([message])
    body = json.loads(message["Body"])
    tampered_payment = {**body["payment"], "amount": "99.00"}
    from payments_core.ids import payload_hash
    from payments_core.models import Payment

    conflicting = {**body, "payment": tampered_payment}
    conflicting["payload_hash"] = payload_hash(Payment.model_validate(tampered_payment).to_document())

    failures = ingest.consume([{**message, "MessageId": "conflict-1", "Body": json.dumps(conflicting)}])

    assert failures == []
    assert str(ingest.transaction(body["transaction_id"])["amount"]) == "12.34"
    assert any(row["sk"] == "ingest#conflict" for row in ingest.audit_rows(body["transaction_id"]))
