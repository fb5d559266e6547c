"""Shim 7: no SQS trigger inside SendMessage; one Lambda-style poll cycle on demand."""

from __future__ import annotations

import json

import pytest

from payctl.runtime.sqs_event_sources import InvalidBatchResponse, failed_ids_from_response, sqs_event


def _send(sqs, url, *bodies):
    for body in bodies:
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps(body),
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
        )


def _counts(sqs, url):
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_send_message_no_longer_invokes_the_consumer(consumer_poller, queues, sqs):
    _send(sqs, queues.url, {"ok": True})

    assert _counts(sqs, queues.url) == (1, 0)


def test_the_template_event_source_configuration_is_kept(fixture_stack):
    (source,) = fixture_stack.event_sources["ConsumerFunction"]

    assert source.queue_arn == fixture_stack.outputs["WorkQueueArn"]
    assert source.queue_url == fixture_stack.outputs["WorkQueueUrl"]
    assert source.function_name == fixture_stack.functions["ConsumerFunction"].name
    assert source.batch_size == 5
    assert source.maximum_batching_window_seconds == 1
    assert source.reports_batch_item_failures
    assert source.maximum_concurrency == 2


def test_stack_poll_once_runs_the_templates_mapping(fixture_stack, sqs):
    _send(sqs, fixture_stack.outputs["WorkQueueUrl"], {"ok": True}, {"ok": True})

    result = fixture_stack.poll_once("ConsumerFunction")

    assert (result.received, result.deleted, result.failed_message_ids) == (2, 2, [])


def test_partial_batch_response_deletes_only_the_successes(consumer_poller, queues, sqs):
    _send(sqs, queues.url, {"ok": True}, {"ok": False}, {"ok": True})

    result = consumer_poller.poll_once()

    assert (result.received, result.deleted, len(result.failed_message_ids)) == (3, 2, 1)
    assert _counts(sqs, queues.url) == (0, 1)


def test_batch_size_bounds_one_invocation(consumer_poller, queues, sqs):
    _send(sqs, queues.url, *({"ok": True} for _ in range(7)))

    result = consumer_poller.poll_once()

    assert (result.received, result.deleted) == (5, 5)
    assert _counts(sqs, queues.url) == (2, 0)


def test_an_errored_invocation_returns_the_whole_batch(consumer_poller, queues, sqs):
    _send(sqs, queues.url, {"ok": True}, {"crash": True})

    result = consumer_poller.poll_once()

    assert result.function_error == "RuntimeError"
    assert result.deleted == 0
    assert _counts(sqs, queues.url) == (0, 2)


def test_a_lambda_service_fault_returns_the_whole_batch(fixture_stack, consumer_poller, queues, sqs):
    _send(sqs, queues.url, {"ok": True})
    fixture_stack.lambda_faults.inject("ConsumerFunction", "Lambda.ServiceException")

    result = consumer_poller.poll_once()

    assert result.service_error == "ServiceException"
    assert result.deleted == 0
    assert _counts(sqs, queues.url) == (0, 1)


def test_failed_records_reach_the_dlq_after_max_receive_count(consumer_poller, queues, sqs):
    consumer_poller.visibility_timeout_on_failure = 0
    _send(sqs, queues.url, {"ok": False})

    first, second, third = (consumer_poller.poll_once() for _ in range(3))

    assert (first.received, second.received, third.received) == (1, 1, 0)
    assert _counts(sqs, queues.url) == (0, 0)
    assert _counts(sqs, queues.dlq_url) == (1, 0)


def test_records_have_lambdas_sqs_event_shape(consumer_poller, queues, sqs):
    _send(sqs, queues.url, {"ok": True})

    (record,) = sqs_event(consumer_poller._receive(0), queues.arn, "us-east-1")["Records"]

    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queues.arn
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert json.loads(record["body"]) == {"ok": True}
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "test",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }


@pytest.mark.parametrize(
    ("response", "failed"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
    ],
)
def test_partial_batch_responses_lambda_accepts(response, failed):
    assert failed_ids_from_response(response, {"a", "b"}) == failed


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]},
        {"batchItemFailures": [{"id": "a"}]},
        "not an object",
    ],
)
def test_malformed_partial_batch_responses_fail_the_whole_batch(response):
    with pytest.raises(InvalidBatchResponse):
        failed_ids_from_response(response, {"a", "b"})
