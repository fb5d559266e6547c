"""Shim 8: messages move from a DLQ back to their source queue, whole, and only once sent;
SQS's move-task API (start, list, cancel) works through boto3."""

from __future__ import annotations

import time

import boto3
import pytest
from botocore.exceptions import ClientError

from payctl.runtime.sqs_redrive import RedriveError, move_messages


def _dead_letter(sqs, queues, body, **attributes):
    sqs.send_message(
        QueueUrl=queues.dlq_url,
        MessageBody=body,
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
        },
    )


def _receive_all(sqs, url):
    messages = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
    ).get("Messages", []):
        messages.extend(batch)
    return messages


def test_messages_go_back_to_the_queue_whose_redrive_policy_names_the_dlq(queues, sqs):
    _dead_letter(sqs, queues, '{"n": 1}', transaction_id="t-1", submitter="s")
    _dead_letter(sqs, queues, '{"n": 2}', transaction_id="t-2", submitter="s")

    result = move_messages(queues.dlq_arn)

    assert (result.destination_arn, result.moved, result.failed) == (queues.arn, 2, [])
    moved = _receive_all(sqs, queues.url)
    assert sorted(m["Body"] for m in moved) == ['{"n": 1}', '{"n": 2}']
    first = next(m for m in moved if m["Body"] == '{"n": 1}')
    assert first["MessageAttributes"]["transaction_id"]["StringValue"] == "t-1"
    assert first["MessageAttributes"]["submitter"]["StringValue"] == "s"
    assert _receive_all(sqs, queues.dlq_url) == []


def test_select_moves_only_the_chosen_messages_and_leaves_the_rest(queues, sqs):
    _dead_letter(sqs, queues, "keep", transaction_id="t-keep")
    _dead_letter(sqs, queues, "move", transaction_id="t-move")

    result = move_messages(queues.dlq_arn, select=lambda m: m["Body"] == "move")

    assert (result.moved, result.skipped) == (1, 1)
    assert [m["Body"] for m in _receive_all(sqs, queues.url)] == ["move"]
    assert [m["Body"] for m in _receive_all(sqs, queues.dlq_url)] == ["keep"]


def test_a_message_whose_send_fails_stays_in_the_dlq(queues, sqs):
    small_url = sqs.create_queue(
        QueueName=queues.url.rsplit("/", 1)[1] + "-small", Attributes={"MaximumMessageSize": "1024"}
    )["QueueUrl"]
    small_arn = sqs.get_queue_attributes(QueueUrl=small_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    _dead_letter(sqs, queues, "x" * 2048)

    result = move_messages(queues.dlq_arn, destination_arn=small_arn)

    assert result.moved == 0
    assert len(result.failed) == 1
    assert [len(m["Body"]) for m in _receive_all(sqs, queues.dlq_url)] == [2048]


def test_a_dlq_no_queue_redrives_to_needs_an_explicit_destination(moto_env):
    sqs = boto3.client("sqs", region_name=moto_env.region)
    url = sqs.create_queue(QueueName="orphan-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    with pytest.raises(RedriveError, match="pass destination_arn"):
        move_messages(arn)


def _task(sqs, dlq_arn, handle):
    tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
    return next(task for task in tasks if task["TaskHandle"] == handle)


def _until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return found


def test_a_native_move_task_moves_every_message_whole_and_reports_its_counts(queues, sqs):
    for n in range(3):
        _dead_letter(sqs, queues, f'{{"n": {n}}}', transaction_id=f"t-{n}")

    handle = sqs.start_message_move_task(SourceArn=queues.dlq_arn)["TaskHandle"]

    done = _until(lambda: (t := _task(sqs, queues.dlq_arn, handle))["Status"] == "COMPLETED" and t)
    assert (done["ApproximateNumberOfMessagesMoved"], done["ApproximateNumberOfMessagesToMove"]) == (3, 3)
    moved = _receive_all(sqs, queues.url)
    assert sorted(m["Body"] for m in moved) == ['{"n": 0}', '{"n": 1}', '{"n": 2}']
    assert {m["MessageAttributes"]["transaction_id"]["StringValue"] for m in moved} == {"t-0", "t-1", "t-2"}
    assert _receive_all(sqs, queues.dlq_url) == []


def test_a_rate_limited_task_can_be_cancelled_and_leaves_the_rest_in_the_dlq(queues, sqs):
    for n in range(12):
        _dead_letter(sqs, queues, f"m{n}")

    handle = sqs.start_message_move_task(
        SourceArn=queues.dlq_arn, DestinationArn=queues.arn, MaxNumberOfMessagesPerSecond=1
    )["TaskHandle"]
    with pytest.raises(ClientError, match="already running"):
        sqs.start_message_move_task(SourceArn=queues.dlq_arn)
    _until(lambda: _task(sqs, queues.dlq_arn, handle)["ApproximateNumberOfMessagesMoved"] >= 1)
    sqs.cancel_message_move_task(TaskHandle=handle)

    cancelled = _until(lambda: (t := _task(sqs, queues.dlq_arn, handle))["Status"] == "CANCELLED" and t)
    moved = cancelled["ApproximateNumberOfMessagesMoved"]
    # At one a second the cancel has eleven seconds to arrive, even on a loaded machine.
    assert 1 <= moved < 12 and cancelled["MaxNumberOfMessagesPerSecond"] == 1
    assert len(_receive_all(sqs, queues.url)) == moved
    assert len(_receive_all(sqs, queues.dlq_url)) == 12 - moved
    with pytest.raises(ClientError, match="not RUNNING"):
        sqs.cancel_message_move_task(TaskHandle=handle)


def test_a_move_task_needs_a_dead_letter_queue_as_its_source(queues, sqs):
    with pytest.raises(ClientError, match="not a dead-letter queue"):
        sqs.start_message_move_task(SourceArn=queues.arn)
