"""payctl pieces that need no running stack: argument handling, the state file, batch submission."""

from __future__ import annotations

import json
import os
import socket

import pytest

from payctl.cli import main
from payctl.local.client import ApiResponse, load_payments, submit_batches
from payctl.local.connection import Connection
from payctl.local.state import NoRunningStack, read_state, remove_state, write_state


def test_commands_without_a_running_stack_say_how_to_start_one(tmp_path, capsys):
    assert main(["get-api-key", "--state-file", str(tmp_path / "none.json")]) == 1

    assert "payctl local up" in capsys.readouterr().err


def test_params_must_be_key_value_pairs(capsys):
    assert main(["local", "up", "--params", "NoEquals", "--api-port", "0", "--moto-port", "0"]) == 1

    assert "Key=Value" in capsys.readouterr().err


def test_a_taken_api_port_is_a_clear_error_before_anything_starts(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        assert main(["local", "up", "--api-port", str(port), "--moto-port", "0"]) == 1

    error = capsys.readouterr().err
    assert f"127.0.0.1:{port} is already in use" in error


def test_replay_needs_a_selection(tmp_path, capsys):
    assert main(["dlq", "replay", "--state-file", str(tmp_path / "x.json")]) == 1

    assert "--all or --message-id" in capsys.readouterr().err


def test_state_file_round_trip_and_stale_pid(tmp_path):
    path = tmp_path / ".payctl" / "local.json"

    write_state({"region": "us-east-1", "outputs": {}, "moto_endpoint": "http://127.0.0.1:5000"}, path)

    assert read_state(path)["pid"] == os.getpid()
    data = json.loads(path.read_text())
    data["pid"] = 2**22 + 12345  # no such process
    path.write_text(json.dumps(data))
    with pytest.raises(NoRunningStack, match="no longer running"):
        read_state(path)


def test_only_the_writer_removes_the_state_file(tmp_path):
    path = tmp_path / "local.json"
    write_state({"region": "us-east-1"}, path)
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "pid": data["pid"] + 1}))

    remove_state(path)
    assert path.exists()
    write_state({"region": "us-east-1"}, path)
    remove_state(path)
    assert not path.exists()


def test_the_state_file_never_holds_the_api_key_value(tmp_path):
    path = write_state({"outputs": {"ApiKeyId": "abc123"}}, tmp_path / "local.json")

    assert "value" not in path.read_text().lower()


def test_sdk_environment_points_at_the_local_endpoint_and_is_restored(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    connection = Connection(region="eu-west-1", outputs={}, endpoint_url="http://127.0.0.1:5000")

    with connection.environment_for_sdk():
        assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5000"
        assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"

    assert "AWS_ENDPOINT_URL" not in os.environ


class FakeApi:
    """Answers /payments/batch like the API: 429 first when asked, then 207 with per-item results."""

    def __init__(self, throttle_first=0):
        self.calls = []
        self.throttle = throttle_first

    def post(self, path, body, headers=None, **kwargs):
        self.calls.append(body)
        if self.throttle:
            self.throttle -= 1
            return ApiResponse(429, {}, b'{"message": "Too Many Requests"}')
        results = [
            {"index": index, "status": item.get("expect", "accepted")}
            for index, item in enumerate(body["payments"])
        ]
        return ApiResponse(207, {}, json.dumps({"results": results}).encode())


def test_submit_chunks_keep_file_order_and_retry_throttling():
    payments = [{"idempotency_key": f"k{index}"} for index in range(5)]
    payments[3]["expect"] = "rejected"
    payments[4]["expect"] = "replayed"
    api = FakeApi(throttle_first=2)
    slept = []

    summary = submit_batches(api, payments, chunk_size=2, sleep=slept.append)

    assert [len(call["payments"]) for call in api.calls] == [2, 2, 2, 2, 1]
    assert slept == [0.25, 0.5]
    assert [result["index"] for result in summary.results] == [0, 1, 2, 3, 4]
    assert (summary.accepted, summary.replayed, summary.rejected) == (3, 1, 1)
    assert summary.failed_chunks == []


def test_submit_refuses_chunks_the_api_would_refuse():
    with pytest.raises(ValueError):
        submit_batches(FakeApi(), [{"idempotency_key": "k"}], chunk_size=501)


def test_a_batch_file_is_the_apis_body_or_a_bare_list():
    payment = {"idempotency_key": "k"}

    assert load_payments({"payments": [payment]}) == [payment]
    assert load_payments([payment]) == [payment]
    with pytest.raises(ValueError):
        load_payments({"items": []})
