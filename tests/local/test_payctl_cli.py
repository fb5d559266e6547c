"""payctl pieces that need no running stack: argument handling, the state file, batch submission."""

from __future__ import annotations

import json
import os
import socket

import pytest
import typer

from payctl.cli import app, main
from payctl.local.cli import EXAMPLE_PAYMENT
from payctl.tools.connection import Connection
from payctl.tools.stack_file import NoRunningStack, read_state, remove_state, write_state


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


def test_a_local_connection_reaches_its_endpoint_without_touching_the_environment(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    connection = Connection(region="eu-west-1", outputs={}, endpoint_url="http://127.0.0.1:5000", local=True)

    client = connection.client("sqs")

    assert client.meta.endpoint_url == "http://127.0.0.1:5000"
    assert client.meta.region_name == "eu-west-1"
    assert "AWS_ENDPOINT_URL" not in os.environ


def test_an_unreachable_api_is_one_line_not_a_traceback(tmp_path, capsys):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    payments = tmp_path / "p.jsonl"
    payments.write_text(json.dumps({"idempotency_key": "k1", **EXAMPLE_PAYMENT}) + "\n")

    code = main(
        [
            "submit",
            str(payments),
            "--api-url",
            f"http://127.0.0.1:{port}/v1",
            "--api-key",
            "k",
            "--max-attempts",
            "1",
        ]
    )

    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.err
    assert "not sent" in captured.err and f"127.0.0.1:{port}" in captured.err


def test_api_url_and_key_come_from_the_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PAYCTL_API_URL", "not-a-url")
    monkeypatch.setenv("PAYCTL_API_KEY", "k")
    payments = tmp_path / "p.jsonl"
    payments.write_text(json.dumps({"idempotency_key": "k1", **EXAMPLE_PAYMENT}) + "\n")

    assert main(["submit", str(payments)]) == 1

    assert "'not-a-url' is not an http(s) URL" in capsys.readouterr().err


def test_every_option_of_every_command_has_help():
    command = typer.main.get_command(app)

    def walk(group, path):
        for name, sub in getattr(group, "commands", {}).items():
            yield from walk(sub, [*path, name])
        if not getattr(group, "commands", None):
            yield path, group

    missing = [
        (" ".join(path), param.name)
        for path, leaf in walk(command, [])
        for param in leaf.params
        if not getattr(param, "help", None)
    ]
    assert missing == []
