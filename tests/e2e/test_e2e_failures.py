"""Failures end to end: a poison payment dead-lettered and replayed; one failed record in a batch."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager

from payctl.local.pollers import LONG_POLL_SECONDS, SqsPoller
from payctl.tools.connection import Connection
from payctl.tools.operator.dlq import Dlq

# A Lambda service error the workflow's Retry list does not name, so each attempt fails at once
# and goes straight to the Catch (RecordFailure): the same path as an exhausted retry, faster.
PERMANENT_FAULT = "Lambda.ResourceNotReadyException"


@contextmanager
def visibility_timeout(sqs, queue_url, seconds):
    """Redeliver quickly for the duration of a test, then restore the stack's setting."""
    attribute = "VisibilityTimeout"
    before = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[attribute])["Attributes"][attribute]
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={attribute: str(seconds)})
    # moto reads the queue's visibility timeout when a ReceiveMessage call starts: a long poll
    # already waiting would still hand out the old one, so let those polls run out first.
    time.sleep(LONG_POLL_SECONDS + 0.5)
    try:
        yield
    finally:
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={attribute: before})


@contextmanager
def failing(local_stack, function, times):
    local_stack.stack.lambda_faults.inject(function, PERMANENT_FAULT, times=times)
    try:
        yield
    finally:
        local_stack.stack.lambda_faults.clear(function)


def _max_receive_count(sqs, queue_url):
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
    return int(json.loads(attributes["RedrivePolicy"])["maxReceiveCount"])


def test_a_poison_payment_is_retried_dead_lettered_audited_and_replayed(
    local_stack,
    api,
    aws,
    payment,
    idempotency_key,
    queue_drained,
    payctl,
    wait,
    wait_for_status,
    wait_for_audit,
    state_file,
):
    queue_drained()
    sqs = aws("sqs")
    queue_url = local_stack.outputs["PaymentsQueueUrl"]
    dlq = Dlq(Connection.from_state(state_file))
    body = payment(amount="31.00")

    with visibility_timeout(sqs, queue_url, 1), failing(local_stack, "ValidationFunction", times=1000):
        accepted = api.post("/payments", body, {"Idempotency-Key": idempotency_key()})
        assert accepted.status == 202
        transaction_id = accepted.json()["transaction_id"]

        def dead_lettered():
            return any(message.transaction_id == transaction_id for message in dlq.read())

        wait(dead_lettered, timeout=90, interval=1, what="the poison message in the DLQ")

    listing = json.loads(payctl("dlq", "list", "--json").stdout)
    message = next(m for m in listing if m["transaction_id"] == transaction_id)

    # Retried until SQS gave up: every receive failed, then the redrive policy moved it.
    assert message["receive_count"] >= _max_receive_count(sqs, queue_url)
    assert message["attributes"] == {"transaction_id": transaction_id, "submitter": local_stack.api_key_id}
    dead_body = json.loads(message["body"])
    assert dead_body["transaction_id"] == transaction_id
    assert dead_body["payment"]["amount"] == "31.00"

    failed = wait_for_status(transaction_id, frozenset({"FAILED"}), timeout=10)
    assert failed["failure"]
    events = wait_for_audit(transaction_id, "payment.failed")
    failure = next(event for event in events if event["action"] == "payment.failed")
    assert failure["actor"] == "settlement"
    assert PERMANENT_FAULT.split(".")[1] in json.dumps(failure["detail"])

    # The operator replays it once the fault is gone; the same transaction id settles.
    payctl("dlq", "replay", "--message-id", message["message_id"])
    settled = wait_for_status(transaction_id, frozenset({"SETTLED"}), timeout=60)
    assert settled["transaction_id"] == transaction_id
    actions = [event["action"] for event in wait_for_audit(transaction_id, "payment.settled")]
    assert actions.index("payment.failed") < actions.index("payment.settled")
    assert all(m.message_id != message["message_id"] for m in dlq.read())


def test_a_failed_record_in_a_consumer_batch_is_the_only_one_returned(
    local_stack, api, aws, payment, queue_drained, wait, wait_for_status
):
    queue_drained()
    sqs = aws("sqs")
    queue_url = local_stack.outputs["PaymentsQueueUrl"]
    items = [
        {"idempotency_key": f"partial-{index}-{payment()['reference']}", **payment()} for index in range(3)
    ]
    # Hold the consumer so the three messages form one batch, polled once by hand below.
    local_stack.pollers.stop()
    try:
        with visibility_timeout(sqs, queue_url, 3):
            response = api.post("/payments/batch", {"payments": items})
            transaction_ids = [result["transaction_id"] for result in response.json()["results"]]
            assert len(transaction_ids) == 3

            def visible():
                depth = sqs.get_queue_attributes(
                    QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
                )
                return depth["Attributes"]["ApproximateNumberOfMessages"] == "3"

            wait(visible, timeout=10, what="three messages in the queue")
            source = local_stack.stack.event_sources["IngestConsumerFunction"][0]
            with failing(local_stack, "ValidationFunction", times=1):
                result = SqsPoller(source, local_stack.region).poll_once()

            assert (result.received, result.deleted, len(result.failed_message_ids)) == (3, 2, 1)
            assert result.function_error is None and result.service_error is None
            depth = sqs.get_queue_attributes(
                QueueUrl=queue_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            assert depth == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "1"}
            statuses = sorted(
                wait_for_status(tid, frozenset({"SETTLED", "FAILED"}))["status"] for tid in transaction_ids
            )
            assert statuses == ["FAILED", "SETTLED", "SETTLED"]
    finally:
        local_stack.pollers.start()

    # The returned record comes back after its visibility timeout and now goes through.
    for transaction_id in transaction_ids:
        assert wait_for_status(transaction_id, frozenset({"SETTLED"}), timeout=60)["status"] == "SETTLED"
