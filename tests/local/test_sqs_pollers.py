"""SQS pollers behave like Lambda's event source mapping (run here against moto's SQS)."""

import hashlib
import io
import json
import threading
import time
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from payctl.local.pollers import SqsPoller
from payctl.runtime.sqs_event_sources import EventSource

REGION = "us-east-1"


@pytest.fixture
def sqs(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # Inside another suite's in-process moto this mock nests and keeps its data, so every queue is
    # uniquely named and deleted afterwards.
    with mock_aws():
        client = boto3.client("sqs", region_name=REGION)
        client.created = []
        yield client
        for url in client.created:
            client.delete_queue(QueueUrl=url)


def _queue(sqs, visibility=30, max_receive=None):
    name = f"pollers-{uuid.uuid4().hex[:12]}"
    attributes = {"VisibilityTimeout": str(visibility)}
    if max_receive:
        dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        sqs.created.append(dlq)
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive}
        )
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    sqs.created.append(url)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _send(sqs, url, count, prefix="m"):
    ids = []
    for index in range(count):
        sent = sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps({"n": index, "p": prefix}),
            MessageAttributes={
                "transaction_id": {"DataType": "String", "StringValue": f"{prefix}-{index}"},
                "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
            },
        )
        ids.append(sent["MessageId"])
    return ids


def _depth(sqs, url):
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


class ServiceFault(Exception):
    """Stands for a Lambda service error (the Invoke API call itself fails)."""


class FakeLambda:
    """A Lambda client whose Invoke runs ``respond``; a raise is a function error, as Lambda reports it."""

    def __init__(self, respond=None):
        self.events = []
        self.respond = respond or (lambda event: {"batchItemFailures": []})
        self.lock = threading.Lock()

    def invoke(self, FunctionName, InvocationType, Payload):
        event = json.loads(Payload)
        with self.lock:
            self.events.append(event)
        try:
            result = self.respond(event)
        except ServiceFault as exc:
            raise ClientError({"Error": {"Code": "ServiceException", "Message": str(exc)}}, "Invoke") from exc
        except Exception as exc:
            error = {"errorMessage": str(exc), "errorType": type(exc).__name__, "stackTrace": []}
            return {"Payload": io.BytesIO(json.dumps(error).encode()), "FunctionError": "Unhandled"}
        return {"Payload": io.BytesIO(json.dumps(result).encode())}


def _poller(sqs, url, arn, function, batch_size=10, window=0, concurrency=None, report_failures=False):
    source = EventSource(
        uuid="esm-1",
        function_logical_id="Consumer",
        function_name="consumer",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:consumer",
        queue_arn=arn,
        queue_url=url,
        batch_size=batch_size,
        maximum_batching_window_seconds=window,
        function_response_types=("ReportBatchItemFailures",) if report_failures else (),
        scaling_config={"MaximumConcurrency": concurrency} if concurrency else None,
        enabled=True,
    )
    return SqsPoller(source, REGION, wait_seconds=1, lambda_client=function)


def test_event_records_have_lambdas_sqs_shape(sqs):
    url, arn = _queue(sqs)
    [message_id] = _send(sqs, url, 1)
    function = FakeLambda()

    _poller(sqs, url, arn, function, report_failures=True).poll_once()

    [record] = function.events[0]["Records"]
    assert record["messageId"] == message_id
    assert record["receiptHandle"]
    assert json.loads(record["body"]) == {"n": 0, "p": "m"}
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == REGION
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"]["transaction_id"] == {
        "stringValue": "m-0",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["messageAttributes"]["blob"]["binaryValue"] == "AAE="
    assert record["messageAttributes"]["blob"]["dataType"] == "Binary"


def test_batch_item_failures_return_only_those_records(sqs):
    url, arn = _queue(sqs)
    _send(sqs, url, 5)

    def fail_third(event):
        return {"batchItemFailures": [{"itemIdentifier": event["Records"][2]["messageId"]}]}

    outcome = _poller(sqs, url, arn, FakeLambda(fail_third), report_failures=True).poll_once()

    assert (outcome.received, outcome.deleted, len(outcome.failed_message_ids)) == (5, 4, 1)
    assert _depth(sqs, url) == (0, 1)


def test_a_function_error_returns_the_whole_batch(sqs):
    url, arn = _queue(sqs, visibility=1)
    _send(sqs, url, 3)

    def explode(event):
        raise KeyError("handler bug")

    outcome = _poller(sqs, url, arn, FakeLambda(explode), report_failures=True).poll_once()

    assert outcome.function_error == "KeyError" and outcome.deleted == 0
    assert _depth(sqs, url) == (0, 3)


def test_a_lambda_service_error_returns_the_whole_batch(sqs):
    url, arn = _queue(sqs)
    _send(sqs, url, 2)

    def throttled(event):
        raise ServiceFault("injected")

    outcome = _poller(sqs, url, arn, FakeLambda(throttled), report_failures=True).poll_once()

    assert outcome.service_error == "ServiceException" and outcome.deleted == 0
    assert _depth(sqs, url) == (0, 2)


def test_without_report_batch_item_failures_a_response_is_ignored(sqs):
    url, arn = _queue(sqs)
    _send(sqs, url, 2)

    def claims_failure(event):
        return {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}

    outcome = _poller(sqs, url, arn, FakeLambda(claims_failure)).poll_once()

    assert outcome.deleted == 2
    assert _depth(sqs, url) == (0, 0)


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": "not-in-the-batch"}]},
        {"batchItemFailures": "everything"},
        "not an object",
    ],
)
def test_a_malformed_partial_batch_response_returns_the_whole_batch(sqs, response):
    url, arn = _queue(sqs)
    _send(sqs, url, 2)

    outcome = _poller(sqs, url, arn, FakeLambda(lambda event: response), report_failures=True).poll_once()

    assert outcome.deleted == 0
    assert _depth(sqs, url) == (0, 2)


def test_batch_size_caps_a_batch(sqs):
    url, arn = _queue(sqs)
    _send(sqs, url, 7)
    function = FakeLambda()

    _poller(sqs, url, arn, function, batch_size=3).poll_once()

    assert len(function.events[0]["Records"]) == 3


def test_batching_window_gathers_messages_sent_while_it_is_open(sqs):
    url, arn = _queue(sqs)
    _send(sqs, url, 1, prefix="first")
    later = threading.Timer(0.3, lambda: _send(sqs, url, 2, prefix="later"))
    later.start()
    function = FakeLambda()

    started = time.monotonic()
    _poller(sqs, url, arn, function, batch_size=10, window=2).poll_once()
    elapsed = time.monotonic() - started
    later.join()

    assert len(function.events[0]["Records"]) == 3
    # The window held the batch open for its two seconds (and not for a long poll's twenty).
    assert 1.9 <= elapsed < 15


def test_a_full_batch_does_not_wait_for_the_window(sqs):
    url, arn = _queue(sqs)
    _send(sqs, url, 4)
    function = FakeLambda()

    started = time.monotonic()
    _poller(sqs, url, arn, function, batch_size=4, window=120).poll_once()

    # Waiting for the window would take two minutes; a loaded machine takes a second or two.
    assert time.monotonic() - started < 60
    assert len(function.events[0]["Records"]) == 4


def test_without_a_window_a_batch_is_whatever_one_receive_returns(sqs):
    url, arn = _queue(sqs)
    _send(sqs, url, 2)
    function = FakeLambda()

    _poller(sqs, url, arn, function, batch_size=10, window=0).poll_once()

    assert 1 <= len(function.events[0]["Records"]) <= 2


def test_maximum_concurrency_bounds_concurrent_batches(sqs):
    url, arn = _queue(sqs)
    _send(sqs, url, 12)
    active, peak = [0], [0]
    lock = threading.Lock()

    def slow(event):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.2)
        with lock:
            active[0] -= 1
        return {}

    poller = _poller(sqs, url, arn, FakeLambda(slow), batch_size=2, concurrency=3)
    poller.start()
    deadline = time.monotonic() + 10
    while _depth(sqs, url) != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    poller.stop()

    assert _depth(sqs, url) == (0, 0)
    assert peak[0] == 3
    assert poller.stats.deleted == 12


def test_redrive_to_the_dlq_is_left_to_sqs_after_max_receive_count(sqs):
    url, arn = _queue(sqs, visibility=1, max_receive=2)
    dlq = sqs.get_queue_url(QueueName=url.rsplit("/", 1)[1] + "-dlq")["QueueUrl"]
    [message_id] = _send(sqs, url, 1, prefix="poison")

    def always_fails(event):
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}

    function = FakeLambda(always_fails)
    poller = _poller(sqs, url, arn, function, report_failures=True)
    poller.start()
    deadline = time.monotonic() + 10
    while _depth(sqs, dlq)[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    poller.stop()

    receive_counts = [
        event["Records"][0]["attributes"]["ApproximateReceiveCount"] for event in function.events
    ]
    assert receive_counts == ["1", "2"]
    moved = sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"])["Messages"][0]
    assert moved["MessageId"] == message_id
    assert moved["MessageAttributes"]["transaction_id"]["StringValue"] == "poison-0"


def test_stop_is_prompt_when_idle(sqs):
    url, arn = _queue(sqs)
    poller = _poller(sqs, url, arn, FakeLambda(), concurrency=4)
    poller.start()
    time.sleep(0.2)

    started = time.monotonic()
    poller.stop()

    # Far below the 20 s long poll an idle poller sits in, however loaded the machine.
    assert time.monotonic() - started < 10
    assert not poller.running
