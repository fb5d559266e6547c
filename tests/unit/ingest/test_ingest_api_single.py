"""POST /payments: acceptance, Stripe-style idempotency, input rules and the error body."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from ingest_svc.handlers import api
from ingest_svc.handlers.body import parse_body
from payments_core.ids import payload_hash, transaction_id

PAN = "4111 1111 1111 1111"


def assert_error_shape(body: dict, code: str, field: str | None = None) -> None:
    assert set(body) == {"error"}
    expected_keys = {"code", "message"} | ({"field"} if field else set())
    assert set(body["error"]) == expected_keys
    assert body["error"]["code"] == code
    if field:
        assert body["error"]["field"] == field


def test_new_payment_is_accepted_and_queued_once(client, ports, payment):
    """Given a valid payment, When it is posted, Then 202 with the derived id and one queued message."""
    response = client.post_payment("order-1001", payment)

    expected_id = transaction_id("key-alpha", "order-1001")
    assert response.status == 202
    assert response.body == {"transaction_id": expected_id, "status": "ACCEPTED", "replayed": False}
    (message,) = ports.queue.messages
    assert message.transaction_id == expected_id
    assert message.submitter == "key-alpha"
    assert message.idempotency_key == "order-1001"
    assert message.payload_hash == payload_hash(message.payment.to_document())
    assert message.payment.to_document()["amount"] == "12.34"


def test_json_number_amount_never_becomes_float(client, ports, payment):
    """Given an amount sent as a JSON number a float cannot hold, Then it is queued digit for digit."""
    raw = json.dumps(payment).replace('"12.34"', "1234567890123456.78")

    response = client.call("POST", "/payments", raw_body=raw, headers={"Idempotency-Key": "big-1"})

    assert response.status == 202
    assert ports.queue.messages[0].payment.amount == Decimal("1234567890123456.78")
    assert ports.queue.messages[0].payment.to_document()["amount"] == "1234567890123456.78"
    parsed = parse_body('{"amount": 0.1}')
    assert isinstance(parsed["amount"], Decimal)
    assert parsed["amount"].text == "0.1"


def test_json_number_with_too_many_places_is_refused_not_rounded(client, ports, payment):
    raw = json.dumps(payment).replace('"12.34"', "12.345")

    response = client.call("POST", "/payments", raw_body=raw, headers={"Idempotency-Key": "k"})

    assert response.status == 422
    assert_error_shape(response.body, "invalid_amount", "amount")
    assert ports.queue.messages == []


def test_replay_answers_the_first_response_marked_replayed_and_queues_nothing(client, ports, payment):
    """Given an accepted payment, When the same key and body come again, Then the same 202 body, replayed."""
    first = client.post_payment("order-7", payment)
    ports.record_queued()
    again = client.post_payment("order-7", payment)

    assert again.status == first.status == 202
    assert again.body == {**first.body, "replayed": True}
    assert len(ports.queue.messages) == 1


def test_replay_matches_on_the_payment_not_its_spelling(client, ports, payment):
    """Given amount "12.34", When replayed as the JSON number 12.340, Then it is the same body."""
    client.post_payment("order-8", payment)
    raw = json.dumps(payment).replace('"12.34"', "12.340")

    again = client.call("POST", "/payments", raw_body=raw, headers={"Idempotency-Key": "order-8"})

    assert again.status == 202 and again.body["replayed"] is True


def test_same_key_with_another_body_is_422_idempotency_key_reused(client, ports, payment):
    client.post_payment("order-9", payment)

    response = client.post_payment("order-9", {**payment, "amount": "99.00"})

    assert response.status == 422
    assert_error_shape(response.body, "idempotency_key_reused", "Idempotency-Key")
    assert len(ports.queue.messages) == 1


def _claimed_without_a_message(ports, payment: dict, key: str) -> str:
    """A record for the key, as a request leaves it that crashed between its claim and its send."""
    from ingest_svc.dal.idempotency import IdempotencyStore
    from ingest_svc.logic.ports import ClaimState, IdempotentRequest
    from payments_core.models import Payment

    request = IdempotentRequest("key-alpha", key, Payment.model_validate(payment))
    (claim,) = IdempotencyStore(ports.idempotency_records).claim([request])
    assert claim.state is ClaimState.NEW
    return request.transaction_id


def test_a_repeat_of_a_claim_whose_request_died_before_sending_queues_the_payment(client, ports, payment):
    """Given a key claimed by a request that crashed before its send (or is still sending), When the
    key comes again with the same body, Then 202 replayed, and the payment is queued by this request."""
    tid = _claimed_without_a_message(ports, payment, "order-10")

    response = client.post_payment("order-10", payment)

    assert response.status == 202
    assert response.body == {"transaction_id": tid, "status": "ACCEPTED", "replayed": True}
    assert [m.transaction_id for m in ports.queue.messages] == [tid]


def test_a_repeat_whose_send_fails_is_retryable_and_keeps_the_claim(client, ports, payment):
    """Given a claimed key not recorded yet and SQS refusing, Then 503 enqueue_failed, and the
    record stays (it is another request's); the next repeat queues the payment."""
    tid = _claimed_without_a_message(ports, payment, "order-11")
    ports.queue.refuse.add(tid)

    refused = client.post_payment("order-11", payment)
    ports.queue.refuse.clear()
    again = client.post_payment("order-11", payment)

    assert refused.status == 503
    assert_error_shape(refused.body, "enqueue_failed")
    assert len(ports.idempotency_records.records) == 1
    assert again.status == 202 and again.body["replayed"] is True
    assert [m.transaction_id for m in ports.queue.messages] == [tid]


def test_an_expired_record_frees_the_key(client, ports, payment):
    """Given a record past its expiration that TTL has not deleted yet, Then the key is claimed afresh."""
    _claimed_without_a_message(ports, payment, "order-12")
    for record in ports.idempotency_records.records.values():
        record["expiration"] = 0

    response = client.post_payment("order-12", payment)

    assert response.status == 202 and response.body["replayed"] is False


def test_same_key_from_two_api_keys_is_two_payments(client, ports, payment):
    first = client.post_payment("shared-key", payment)
    second = client.post_payment("shared-key", {**payment, "amount": "1.00"}, api_key_id="key-beta")

    assert first.status == second.status == 202
    assert first.body["transaction_id"] != second.body["transaction_id"]
    assert len(ports.queue.messages) == 2


def test_enqueue_failure_is_503_and_the_key_can_be_retried(client, ports, payment):
    """Given SQS refuses the message, Then 503 enqueue_failed, and the same request later succeeds."""
    ports.queue.refuse.add(transaction_id("key-alpha", "order-12"))

    failed = client.post_payment("order-12", payment)
    ports.queue.refuse.clear()
    retried = client.post_payment("order-12", payment)

    assert failed.status == 503
    assert_error_shape(failed.body, "enqueue_failed")
    assert retried.status == 202 and retried.body["replayed"] is False


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({}, "Idempotency-Key"),
        ({"Idempotency-Key": ""}, "Idempotency-Key"),
        ({"Idempotency-Key": "x" * 256}, "Idempotency-Key"),
        ({"Idempotency-Key": "tab\tin-key"}, "Idempotency-Key"),
        ({"Idempotency-Key": "clé"}, "Idempotency-Key"),
    ],
    ids=["missing", "empty", "too-long", "control-char", "non-ascii"],
)
def test_idempotency_key_header_rules_answer_400_naming_the_header(client, ports, payment, headers, field):
    response = client.call("POST", "/payments", body=payment, headers=headers)

    assert response.status == 400
    assert_error_shape(response.body, "invalid_request", field)
    assert ports.queue.messages == []


def test_idempotency_key_of_255_printable_characters_is_accepted(client, ports, payment):
    assert client.post_payment("~ !" + "k" * 252, payment).status == 202


def test_idempotency_key_header_name_is_case_insensitive(client, ports, payment):
    response = client.call("POST", "/payments", body=payment, headers={"idempotency-key": "lower-1"})

    assert response.status == 202


def test_card_number_in_the_body_is_422_naming_the_field_never_the_value(
    client, ports, payment, capsys, caplog
):
    """Given a PAN in metadata, Then 422 card_data_not_allowed with its path; never echoed or logged."""
    payment["metadata"] = {"note": f"card {PAN}"}

    response = client.post_payment("order-13", payment)

    assert response.status == 422
    assert_error_shape(response.body, "card_data_not_allowed", "metadata.note")
    assert "1111" not in response.raw["body"]
    captured = capsys.readouterr()
    assert "1111" not in captured.out + captured.err + caplog.text
    assert ports.queue.messages == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p["payment_method"].update(number="4111111111111111"), "payment_method.number"),
        (lambda p: p["payment_method"].update(cvv="123"), "payment_method.cvv"),
        (lambda p: p.update(card_number="4111111111111111"), "card_number"),
        (lambda p: p.update(metadata={"4111111111111111": "x"}), "metadata.<card number>"),
    ],
    ids=["pan-field", "cvv-field", "top-level-pan", "pan-as-metadata-key"],
)
def test_card_fields_are_rejected_as_card_data_before_schema_rules(client, ports, payment, change, field):
    change(payment)

    response = client.post_payment("order-14", payment)

    assert response.status == 422
    assert_error_shape(response.body, "card_data_not_allowed", field)
    assert "4111" not in response.raw["body"] and "123" not in response.body["error"]["message"]


def test_card_number_as_idempotency_key_is_refused_without_echo(client, ports, payment):
    response = client.post_payment("4111111111111111", payment)

    assert response.status == 422
    assert_error_shape(response.body, "card_data_not_allowed", "Idempotency-Key")
    assert "4111" not in response.raw["body"]


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        (lambda p: p.update(amount="1.001"), "invalid_amount", "amount"),
        (lambda p: p.update(amount="-5"), "invalid_amount", "amount"),
        (lambda p: p.update(amount="12.5", currency="JPY"), "invalid_amount", "amount"),
        (lambda p: p.update(currency="XAU"), "unsupported_currency", "currency"),
        (lambda p: p["payment_method"].update(last4="42"), "invalid_payment", "payment_method.last4"),
        (lambda p: p.update(surprise="x"), "invalid_payment", "surprise"),
        (lambda p: p.pop("merchant_id"), "invalid_payment", "merchant_id"),
    ],
    ids=["scale", "negative", "jpy-decimals", "currency", "last4", "unknown-field", "missing-field"],
)
def test_invalid_payment_is_422_with_the_field_path(client, ports, payment, change, code, field):
    change(payment)

    response = client.post_payment("order-15", payment)

    assert response.status == 422
    assert_error_shape(response.body, code, field)
    assert ports.queue.messages == []


def test_body_that_is_not_json_is_400(client, ports):
    response = client.call("POST", "/payments", raw_body="{not json", headers={"Idempotency-Key": "k"})

    assert response.status == 400
    assert_error_shape(response.body, "invalid_request")


def test_body_that_is_not_an_object_is_422(client, ports):
    response = client.call("POST", "/payments", body=[1, 2], headers={"Idempotency-Key": "k"})

    assert response.status == 422
    assert_error_shape(response.body, "invalid_payment")


def test_request_without_an_api_key_id_is_403_as_api_gateway_answers(client, ports, payment):
    response = client.post_payment("order-16", payment, api_key_id=None)

    assert response.status == 403
    assert_error_shape(response.body, "invalid_api_key")
    assert ports.queue.messages == []


def test_unknown_route_answers_in_the_error_shape(client, ports):
    response = client.call("GET", "/nowhere")

    assert response.status == 404
    assert_error_shape(response.body, "route_not_found")


def test_openapi_spec_is_valid_and_documents_the_error_body():
    from openapi_spec_validator import validate

    spec = json.loads(api.app.get_openapi_json_schema())
    validate(spec)
    post = spec["paths"]["/payments"]["post"]
    assert post["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorResponse"
    )
    assert any(p["name"].lower() == "idempotency-key" and p["in"] == "header" for p in post["parameters"])


def _recorded_then_expired(ports, tid: str) -> None:
    """The consumer recorded the queued payment; a day later its idempotency record expired."""
    (message,) = [m for m in ports.queue.messages if m.transaction_id == tid]
    ports.transactions.items[tid] = {"transaction_id": tid, "payload_hash": message.payload_hash}
    ports.idempotency_records.records.clear()


def test_key_reused_after_its_record_expired_replays_the_recorded_payment(client, ports, payment):
    """Given a payment recorded a day ago whose idempotency record expired, When the same key and
    body come again, Then 202 replayed with the same transaction, nothing queued, the record renewed."""
    first = client.post_payment("order-30", payment)
    _recorded_then_expired(ports, first.body["transaction_id"])

    again = client.post_payment("order-30", payment)

    assert again.status == 202
    assert again.body == {**first.body, "replayed": True}
    assert len(ports.queue.messages) == 1
    (record,) = ports.idempotency_records.records.values()
    assert record["status"] == "COMPLETED"


def test_key_reused_after_expiry_with_another_body_is_422_not_a_lost_202(client, ports, payment):
    first = client.post_payment("order-31", payment)
    _recorded_then_expired(ports, first.body["transaction_id"])

    response = client.post_payment("order-31", {**payment, "amount": "99.00"})

    assert response.status == 422
    assert_error_shape(response.body, "idempotency_key_reused", "Idempotency-Key")
    assert len(ports.queue.messages) == 1
    assert ports.idempotency_records.records == {}  # released: the key stays answerable


def test_transactions_lookup_failure_is_503_and_leaves_the_key_free(client, ports, payment, monkeypatch):
    from payments_core.errors import DependencyError

    lookups = []
    recorded = ports.transactions.payload_hashes

    def unavailable_once(transaction_ids):
        lookups.append(list(transaction_ids))
        if len(lookups) == 1:
            raise DependencyError("transactions table read failed")
        return recorded(transaction_ids)

    monkeypatch.setattr(ports.transactions, "payload_hashes", unavailable_once)
    failed = client.post_payment("order-32", payment)
    retried = client.post_payment("order-32", payment)

    assert failed.status == 503 and failed.body["error"]["code"] == "dependency_error"
    assert retried.status == 202 and retried.body["replayed"] is False
    assert len(lookups) == 2 and len(ports.queue.messages) == 1
