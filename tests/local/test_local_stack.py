"""The pieces of LocalStack that need no deploy: the shared moto server and the port checks."""

from __future__ import annotations

import socket
import uuid

import boto3
import pytest
from moto import mock_aws

from payctl.local.local_stack import LocalStack
from payctl.local.moto_server import MotoServer
from payctl.local.ports import PortInUse
from payctl.runtime import _state as runtime_state


@pytest.fixture
def taken_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_the_moto_server_serves_the_in_process_backends(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    name = f"shared-{uuid.uuid4().hex[:10]}"
    with mock_aws():
        in_process = boto3.client("sqs", region_name="us-east-1")
        url = in_process.create_queue(QueueName=name)["QueueUrl"]
        in_process.send_message(QueueUrl=url, MessageBody="from inside")
        server = MotoServer(port=0)
        server.start()
        try:
            outside = boto3.client(
                "sqs",
                region_name="us-east-1",
                endpoint_url=f"http://127.0.0.1:{server.port}",
                aws_access_key_id="x",
                aws_secret_access_key="x",
            )
            remote_url = outside.get_queue_url(QueueName=name)["QueueUrl"]
            received = outside.receive_message(QueueUrl=remote_url)["Messages"]
            outside.send_message(QueueUrl=remote_url, MessageBody="from outside")
        finally:
            server.stop()
        back = in_process.receive_message(QueueUrl=url)["Messages"]
        in_process.delete_queue(QueueUrl=url)

    assert remote_url.startswith(f"http://127.0.0.1:{server.port}/")
    assert [m["Body"] for m in received] == ["from inside"]
    assert [m["Body"] for m in back] == ["from outside"]


def test_a_taken_moto_port_is_a_clear_error(taken_port):
    with pytest.raises(PortInUse, match=f"moto port 127.0.0.1:{taken_port} is already in use"):
        MotoServer(port=taken_port)


def test_local_stack_refuses_a_taken_port_before_starting_anything(taken_port):
    stack = LocalStack(api_port=0, moto_port=taken_port)

    with pytest.raises(PortInUse, match="moto port"):
        stack.start()

    assert not runtime_state.is_active()
    with pytest.raises(RuntimeError, match="not running"):
        _ = stack.stack
