"""The local front's own refusals, over real HTTP, in the error shape the template's
GatewayResponses define: never http.server's HTML page."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from payctl.local.api_front import ApiFront
from payctl.local.api_http_server import ApiHttpServer
from payctl.local.api_keys import PlanBinding, StaticKeyStore
from payctl.local.proxy_integration import MAX_PAYLOAD_BYTES
from payctl.local.routes import api_definitions
from payctl.local.template_parameters import parameter_values
from payctl.local.throttle import UsagePlanLimits
from payctl.runtime.cfn_yaml import load_template
from tests.local.test_api_front import KEY

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture
def server() -> Iterator[ApiHttpServer]:
    template = load_template(TEMPLATE)
    api = api_definitions(template, parameter_values(template))["PaymentsApi"]
    calls = []
    front = ApiFront(
        api,
        lambda function_id, event: calls.append(event) or {"statusCode": 202, "body": "{}"},
        StaticKeyStore([(KEY, PlanBinding("plan-1", UsagePlanLimits()))]),
    )
    http_server = ApiHttpServer(front, port=0)
    http_server.start()
    http_server.calls = calls  # type: ignore[attr-defined]
    yield http_server
    http_server.stop()


def _raw(server: ApiHttpServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def _assert_error_shape(headers: dict[str, str], body: bytes, code: str) -> dict:
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message"} and error["code"] == code
    return error


def test_a_64_kb_header_is_431_in_the_error_shape(server):
    request = b"GET /v1/payments/x HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n"

    status, headers, body = _raw(server, request)

    assert status == 431
    _assert_error_shape(headers, body, "bad_request")


@pytest.mark.parametrize("method", [b"TRACE", b"QUERY", b"BREW"])
def test_any_method_a_resource_lacks_is_405_in_the_error_shape_not_501(server, method):
    status, headers, body = _raw(server, method + b" /v1/payments HTTP/1.1\r\nHost: x\r\n\r\n")

    assert status == 405
    assert headers["allow"] == "POST"
    _assert_error_shape(headers, body, "bad_request")


def test_a_garbled_request_line_is_400_in_the_error_shape(server):
    status, headers, body = _raw(server, b"GET / HTTP/1.1 extra\r\n\r\n")

    assert status == 400
    _assert_error_shape(headers, body, "bad_request")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/v1/payments", "POST"),
        ("DELETE", "/v1/payments/abc", "GET"),
        ("TRACE", "/v1/payments", "POST"),
    ],
)
def test_a_known_resource_under_another_method_is_405_with_allow(server, method, path, allow):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request(method, path, headers={"x-api-key": KEY.value})
    response = connection.getresponse()

    assert response.status == 405
    assert response.getheader("Allow") == allow
    _assert_error_shape({"content-type": response.getheader("Content-Type")}, response.read(), "bad_request")
    assert server.calls == []


def test_an_unknown_route_is_404_route_not_found(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/v1/nothing", headers={"x-api-key": KEY.value})
    response = connection.getresponse()

    assert response.status == 404
    _assert_error_shape(
        {"content-type": response.getheader("Content-Type")}, response.read(), "route_not_found"
    )


def test_a_body_over_10_mb_is_413_without_being_read(server):
    request = (
        b"POST /v1/payments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"x-api-key: {KEY.value}\r\nContent-Length: {MAX_PAYLOAD_BYTES + 1}\r\n\r\n".encode()
        + b"{"
    )

    status, headers, body = _raw(server, request)

    assert status == 413
    _assert_error_shape(headers, body, "payload_too_large")
    assert server.calls == []
