"""POST /payments/batch: limits, per-item validation and idempotency, results in request order."""

from __future__ import annotations

import pytest

from payments_core.ids import transaction_id


def item(key: str, payment: dict, **changes) -> dict:
    return {"idempotency_key": key, **payment, **changes}


def test_results_come_back_in_request_order_with_only_valid_items_queued(client, ports, payment):
    """Given valid and invalid items mixed, Then 207, one result per item in order, only valid ones queued."""
    items = [
        item("b-0", payment),
        item("b-1", payment, amount="1.001"),
        item("b-2", payment, currency="XAU"),
        {**payment},
        item("b-4", payment, amount="5.00"),
    ]

    response = client.post_batch(items)

    assert response.status == 207
    results = response.body["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected", "rejected", "accepted"]
    assert results[1]["error"] == {
        "code": "invalid_amount",
        "message": results[1]["error"]["message"],
        "field": "payments[1].amount",
    }
    assert results[2]["error"]["code"] == "unsupported_currency"
    assert (
        results[3]["error"]["field"] == "payments[3].idempotency_key" and "idempotency_key" not in results[3]
    )
    assert results[0]["transaction_id"] == transaction_id("key-alpha", "b-0")
    assert "transaction_id" not in results[1] and "error" not in results[0]
    assert (response.body["accepted"], response.body["replayed"], response.body["rejected"]) == (2, 0, 3)
    assert sorted(m.idempotency_key for m in ports.queue.messages) == ["b-0", "b-4"]


def test_batch_of_500_is_accepted(client, ports, payment):
    response = client.post_batch([item(f"k-{i}", payment) for i in range(500)])

    assert response.status == 207
    assert response.body["accepted"] == 500
    assert len(ports.queue.messages) == 500


def test_batch_of_501_is_413_and_nothing_is_queued(client, ports, payment):
    response = client.post_batch([item(f"k-{i}", payment) for i in range(501)])

    assert response.status == 413
    assert response.body["error"]["code"] == "batch_too_large"
    assert response.body["error"]["field"] == "payments"
    assert ports.queue.messages == []


@pytest.mark.parametrize(
    "body", [{"payments": []}, {}, {"payments": "nope"}], ids=["empty", "missing", "not-a-list"]
)
def test_batch_without_items_is_422(client, ports, body):
    response = client.call("POST", "/payments/batch", body=body)

    assert response.status == 422
    assert response.body["error"]["field"] == "payments"


def test_repeated_key_in_one_batch_is_a_replay_of_the_first(client, ports, payment):
    response = client.post_batch([item("dup", payment), item("dup", payment)])

    first, second = response.body["results"]
    assert (first["status"], second["status"]) == ("accepted", "replayed")
    assert first["transaction_id"] == second["transaction_id"]
    assert (response.body["accepted"], response.body["replayed"]) == (2, 1)
    assert len(ports.queue.messages) == 1


def test_repeated_key_with_another_body_in_one_batch_is_rejected(client, ports, payment):
    response = client.post_batch([item("dup", payment), item("dup", payment, amount="3.00")])

    first, second = response.body["results"]
    assert first["status"] == "accepted"
    assert second["status"] == "rejected"
    assert second["error"]["code"] == "idempotency_key_reused"
    assert len(ports.queue.messages) == 1


def test_resent_batch_replays_every_item_and_queues_nothing_new(client, ports, payment):
    items = [item(f"r-{i}", payment) for i in range(12)]
    client.post_batch(items)
    ports.record_queued()

    again = client.post_batch(items)

    assert {r["status"] for r in again.body["results"]} == {"replayed"}
    assert (again.body["accepted"], again.body["replayed"], again.body["rejected"]) == (12, 12, 0)
    assert len(ports.queue.messages) == 12


def test_a_batch_resent_before_the_consumer_recorded_it_queues_each_payment_again(client, ports, payment):
    """Given a batch whose payments the consumer has not recorded yet, When it is sent again, Then
    every item replays and is queued once more: the replay cannot know that the first request's
    send went through, and the consumer's conditional put records each payment once."""
    items = [item(f"early-{i}", payment) for i in range(3)]
    first = client.post_batch(items)

    again = client.post_batch(items)

    assert [r["status"] for r in again.body["results"]] == ["replayed"] * 3
    assert [r["transaction_id"] for r in again.body["results"]] == [
        r["transaction_id"] for r in first.body["results"]
    ]
    assert sorted(m.idempotency_key for m in ports.queue.messages) == sorted(
        [f"early-{i}" for i in range(3)] * 2
    )


def test_batch_item_and_single_post_share_one_key_space(client, ports, payment):
    """Given a key first used on a single POST, When a batch item reuses it, Then it is a replay."""
    single = client.post_payment("shared", payment)
    ports.record_queued()

    response = client.post_batch([item("shared", payment), item("shared-2", payment)])

    assert response.body["results"][0]["status"] == "replayed"
    assert response.body["results"][0]["transaction_id"] == single.body["transaction_id"]
    assert len(ports.queue.messages) == 2


def test_items_sqs_refused_are_rejected_retryably_and_can_be_resent(client, ports, payment):
    """Given SQS fails some entries, Then those items are rejected enqueue_failed; a resend accepts them."""
    refused = transaction_id("key-alpha", "q-1")
    ports.queue.refuse.add(refused)
    items = [item(f"q-{i}", payment) for i in range(3)]

    first = client.post_batch(items)
    ports.record_queued()
    ports.queue.refuse.clear()
    resent = client.post_batch(items)

    assert [r["status"] for r in first.body["results"]] == ["accepted", "rejected", "accepted"]
    assert first.body["results"][1]["error"]["code"] == "enqueue_failed"
    assert first.body["results"][1]["transaction_id"] == refused
    assert [r["status"] for r in resent.body["results"]] == ["replayed", "accepted", "replayed"]
    assert sorted(m.idempotency_key for m in ports.queue.messages) == ["q-0", "q-1", "q-2"]


def test_card_number_in_one_item_rejects_that_item_only_without_echo(client, ports, payment):
    bad = item("c-1", payment, metadata={"note": "4111111111111111"})

    response = client.post_batch([item("c-0", payment), bad])

    assert [r["status"] for r in response.body["results"]] == ["accepted", "rejected"]
    assert response.body["results"][1]["error"]["code"] == "card_data_not_allowed"
    assert response.body["results"][1]["error"]["field"] == "payments[1].metadata.note"
    assert "4111" not in response.raw["body"]


def test_card_number_as_item_key_is_rejected_and_not_echoed(client, ports, payment):
    response = client.post_batch([item("4111111111111111", payment)])

    (result,) = response.body["results"]
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "card_data_not_allowed"
    assert "4111" not in response.raw["body"]


def test_card_number_outside_the_items_rejects_the_whole_batch(client, ports, payment):
    response = client.call(
        "POST", "/payments/batch", body={"payments": [item("x", payment)], "pan": "4111111111111111"}
    )

    assert response.status == 422
    assert response.body["error"]["code"] == "card_data_not_allowed"
    assert ports.queue.messages == []


def test_batch_after_the_idempotency_records_expired_checks_the_recorded_transactions(client, ports, payment):
    """Given 150 payments recorded a day ago (more than one BatchGetItem), When a batch reuses their
    keys, Then the same bodies replay, other bodies are rejected, and only the new key is queued."""
    first = client.post_batch([item(f"old-{i}", payment) for i in range(150)])
    for message in ports.queue.messages:
        ports.transactions.items[message.transaction_id] = {
            "transaction_id": message.transaction_id,
            "payload_hash": message.payload_hash,
        }
    ports.idempotency_records.records.clear()

    items = [item(f"old-{i}", payment) for i in range(149)]
    items.append(item("old-149", {**payment, "amount": "7.00"}))
    items.append(item("brand-new", payment))
    response = client.post_batch(items)

    statuses = [r["status"] for r in response.body["results"]]
    assert statuses == ["replayed"] * 149 + ["rejected", "accepted"]
    assert response.body["results"][149]["error"]["code"] == "idempotency_key_reused"
    ids = [r["transaction_id"] for r in first.body["results"]]
    assert [r["transaction_id"] for r in response.body["results"][:149]] == ids[:149]
    assert len(ports.queue.messages) == 151
