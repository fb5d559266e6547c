"""A single payment over HTTP: accepted, settled, readable with its audit trail; idempotency rules."""

from __future__ import annotations


def test_a_payment_is_accepted_then_settled_with_its_audit_trail(
    api, payment, idempotency_key, wait_for_status, wait_for_audit
):
    body = payment(amount="25.00")

    accepted = api.post("/payments", body, {"Idempotency-Key": idempotency_key()})

    assert accepted.status == 202
    answer = accepted.json()
    assert answer["status"] == "ACCEPTED" and answer["replayed"] is False
    transaction_id = answer["transaction_id"]

    settled = wait_for_status(transaction_id)
    assert settled["status"] == "SETTLED"
    assert settled["amount"] == "25.00" and settled["currency"] == "USD"
    assert settled["merchant_id"] == body["merchant_id"]
    assert settled["validation"]["outcome"] == "PASS"
    assert settled["fraud"]["score"] == "0.00"
    assert settled["settlement"]

    events = wait_for_audit(transaction_id, "payment.settled")
    actions = [event["action"] for event in events]
    assert actions[0] == "payment.received"
    assert actions[-1] == "payment.settled"
    assert {"validation.passed", "fraud.approved"} <= set(actions)
    assert [event["at"] for event in events] == sorted(event["at"] for event in events)
    assert {event["actor"] for event in events} == {"ingest", "validation", "fraud", "settlement"}


def test_the_same_key_and_body_replays_the_first_response_and_makes_one_transaction(
    api, payment, idempotency_key, wait_for_status, wait_for_audit
):
    body, key = payment(), idempotency_key()

    first = api.post("/payments", body, {"Idempotency-Key": key})
    second = api.post("/payments", body, {"Idempotency-Key": key})

    assert first.status == second.status == 202
    assert first.json()["replayed"] is False
    assert second.json() == {**first.json(), "replayed": True}
    transaction_id = first.json()["transaction_id"]
    final = wait_for_status(transaction_id)["status"]
    trail = wait_for_audit(transaction_id, f"payment.{final.lower()}")
    assert [event["action"] for event in trail].count("payment.received") == 1


def test_the_same_key_with_another_body_is_422(api, payment, idempotency_key):
    key = idempotency_key()
    assert api.post("/payments", payment(amount="10.00"), {"Idempotency-Key": key}).status == 202

    reused = api.post("/payments", payment(amount="11.00"), {"Idempotency-Key": key})

    assert reused.status == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"


def test_a_missing_idempotency_key_is_400(api, payment):
    response = api.post("/payments", payment())

    assert response.status == 400
    error = response.json()["error"]
    assert error["field"] == "Idempotency-Key"


def test_an_unknown_payment_is_404(api):
    response = api.get("/payments/00000000-0000-0000-0000-000000000000")

    assert response.status == 404
    assert response.json()["error"]["code"] == "transaction_not_found"
