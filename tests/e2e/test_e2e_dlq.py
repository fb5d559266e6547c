"""payctl dlq against the running stack: filtered replays, dry runs, native move tasks, drops."""

from __future__ import annotations

import json
from contextlib import contextmanager

TERMINAL = frozenset({"SETTLED"})
PROBES = 20


@contextmanager
def consumer_paused(local_stack):
    local_stack.pollers.stop()
    try:
        yield
    finally:
        local_stack.pollers.start()


def _receive_all(sqs, url, *, peek=False):
    """Every visible message, hidden while they are read; with ``peek``, all handed back at once."""
    found = []
    while batch := sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
        VisibilityTimeout=30,
        WaitTimeSeconds=0,
    ).get("Messages", []):
        found.extend(batch)
    if peek:
        for message in found:
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
    return found


def _dead_letter_real_payments(api, sqs, outputs, payments, wait):
    """Accepted payments moved by hand from the queue to the DLQ, as SQS's redrive would."""
    response = api.post("/payments/batch", {"payments": payments})
    ids = [result["transaction_id"] for result in response.json()["results"]]
    queue, dlq = outputs["PaymentsQueueUrl"], outputs["PaymentsDLQUrl"]
    messages = wait(
        lambda: (found := _receive_all(sqs, queue)) and len(found) == len(ids) and found,
        timeout=20,
        what="the payments in the queue",
    )
    for message in messages:
        sqs.send_message(
            QueueUrl=dlq, MessageBody=message["Body"], MessageAttributes=message["MessageAttributes"]
        )
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return ids, {json.loads(m["Body"])["transaction_id"]: m for m in messages}


def test_filtered_replay_moves_exactly_the_selection_intact_with_audit_rows(
    local_stack, api, aws, payment, idempotency_key, payctl, queue_drained, wait, wait_for_status
):
    queue_drained()
    sqs = aws("sqs")
    outputs = local_stack.outputs
    amounts = ["21.00", "22.00", "23.00", "24.00"]
    items = [
        {"idempotency_key": f"dlq-{i}-{idempotency_key()[-12:]}", **payment(amount=a)}
        for i, a in enumerate(amounts)
    ]

    with consumer_paused(local_stack):
        _, originals = _dead_letter_real_payments(api, sqs, outputs, items, wait)

        by_amount = {json.loads(m["Body"])["payment"]["amount"]: tid for tid, m in originals.items()}
        dry = json.loads(
            payctl("dlq", "replay", "--where", "payment.amount == '21.00'", "--dry-run", "--json").stdout
        )
        ids = [by_amount[amount] for amount in amounts]
        assert [m["transaction_id"] for m in dry] == [ids[0]]
        assert len(_receive_all(sqs, outputs["PaymentsDLQUrl"], peek=True)) == 4

        chosen = [ids[1], ids[2]]
        replay = payctl(
            "dlq",
            "replay",
            "--transaction-id",
            chosen[0],
            "--transaction-id",
            chosen[1],
            "--operator",
            "e2e-operator",
            "--yes",
            "--json",
        )
        report = json.loads(replay.stdout)
        moved = _receive_all(sqs, outputs["PaymentsQueueUrl"], peek=True)
        left = _receive_all(sqs, outputs["PaymentsDLQUrl"], peek=True)

    assert sorted(m["transaction_id"] for m in report["moved"]) == sorted(chosen)
    assert sorted(json.loads(m["Body"])["transaction_id"] for m in moved) == sorted(chosen)
    for message in moved:
        original = originals[json.loads(message["Body"])["transaction_id"]]
        assert message["Body"] == original["Body"]
        assert message["MessageAttributes"] == original["MessageAttributes"]
    assert sorted(json.loads(m["Body"])["transaction_id"] for m in left) == sorted([ids[0], ids[3]])
    new_ids = {m["transaction_id"]: m["new_message_id"] for m in report["moved"]}
    for transaction_id in chosen:
        assert wait_for_status(transaction_id, TERMINAL)["status"] == "SETTLED"
        events = api.get(f"/payments/{transaction_id}/audit").json()["events"]
        (row,) = [e for e in events if e["action"] == "operator.dlq_replayed"]
        assert row["actor"] == "operator:e2e-operator"
        assert row["detail"]["new_message_id"] == new_ids[transaction_id]
        assert row["detail"]["old_message_id"] != row["detail"]["new_message_id"]

    # The rest: a bulk replay is refused without --yes, then goes through with it.
    assert "confirm with --yes" in payctl("dlq", "replay", "--all", expect=1).stderr
    payctl("dlq", "replay", "--all", "--yes")
    for transaction_id in (ids[0], ids[3]):
        assert wait_for_status(transaction_id, TERMINAL)["status"] == "SETTLED"


def test_native_move_tasks_start_list_and_cancel(local_stack, aws, payctl, queue_drained, wait):
    queue_drained()
    sqs = aws("sqs")
    dlq_url = local_stack.outputs["PaymentsDLQUrl"]
    queue_url = local_stack.outputs["PaymentsQueueUrl"]
    with consumer_paused(local_stack):
        # At one message a second the task is still running when payctl, a new process each time, cancels it.
        for n in range(PROBES):
            sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps({"move_task_probe": n}))

        started = payctl("dlq", "replay", "--all", "--native", "--rate", "1", "--yes").stdout
        handle = started.split("move task ", 1)[1].split(";", 1)[0]
        (task,) = [
            t for t in json.loads(payctl("dlq", "tasks", "--json").stdout) if t["TaskHandle"] == handle
        ]
        assert task["Status"] == "RUNNING" and task["MaxNumberOfMessagesPerSecond"] == 1
        payctl("dlq", "tasks", "--cancel", handle)

        def cancelled():
            tasks = json.loads(payctl("dlq", "tasks", "--json").stdout)
            found = next(t for t in tasks if t["TaskHandle"] == handle)
            return found if found["Status"] == "CANCELLED" else None

        task = wait(cancelled, timeout=20, what="the move task to stop")
        moved = _receive_all(sqs, queue_url)
        for message in moved:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        probes = [m for m in _receive_all(sqs, dlq_url) if "move_task_probe" in m["Body"]]

    assert task["ApproximateNumberOfMessagesMoved"] == len(moved) < PROBES
    assert len(probes) == PROBES - len(moved)

    # What is left is dropped for good, after confirmation.
    for probe in probes:
        sqs.change_message_visibility(
            QueueUrl=dlq_url, ReceiptHandle=probe["ReceiptHandle"], VisibilityTimeout=0
        )
    assert (
        "confirm with --yes" in payctl("dlq", "drop", "--where", "move_task_probe != null", expect=1).stderr
    )
    payctl("dlq", "drop", "--where", "move_task_probe != null", "--yes", "--operator", "e2e-operator")
    left = json.loads(payctl("dlq", "list", "--json").stdout)
    assert [m for m in left if "move_task_probe" in m["body"]] == []
