"""The API front: API Gateway's checks, the v1 proxy event, and the proxy response mapped back."""

import base64
import json
import socket
import threading
import urllib.error
import urllib.request
from decimal import Decimal

import pytest

from payctl.local.api_front import ApiFront
from payctl.local.api_http_server import ApiHttpServer
from payctl.local.api_keys import ApiKey, PlanBinding, StaticKeyStore
from payctl.local.ports import PortInUse
from payctl.local.proxy_integration import HttpRequest, MalformedProxyResponse, map_proxy_response
from payctl.local.routes import ApiDefinition, Route
from payctl.local.throttle import UsagePlanLimits

KEY = ApiKey(id="key-id-1", value="secret-value-1")
ROUTES = (
    Route("Api", "/payments", "POST", "IngestFn", True, "Post"),
    Route("Api", "/payments/{transaction_id}", "GET", "IngestFn", True, "Get"),
    Route("Api", "/health", "GET", "IngestFn", False, "Health"),
)


def _api(**overrides):
    fields = {
        "api_id": "Api",
        "stage_name": "v1",
        "api_key_required_default": True,
        "usage_plan": None,
        "routes": ROUTES,
    }
    fields.update(overrides)
    return ApiDefinition(**fields)


class RecordingFunction:
    def __init__(self, result=None, error=None):
        self.events = []
        self.result = result if result is not None else {"statusCode": 202, "body": '{"ok": true}'}
        self.error = error

    def __call__(self, function_id, event):
        self.events.append((function_id, event))
        if self.error:
            raise self.error
        return self.result


def _front(function=None, limits=None, keys=None, **api_overrides):
    plan = PlanBinding("plan-1", limits or UsagePlanLimits())
    store = keys or StaticKeyStore([(KEY, plan)])
    return ApiFront(_api(**api_overrides), function or RecordingFunction(), store)


def _request(method="POST", path="/v1/payments", headers=None, body=b""):
    headers = [("x-api-key", KEY.value), *(headers or [])]
    return HttpRequest(method, path, headers, body)


def _body(response):
    return json.loads(response.body)


def test_missing_key_is_403_forbidden_and_never_reaches_the_function():
    function = RecordingFunction()
    front = _front(function)

    response = front.handle(HttpRequest("POST", "/v1/payments", [], b"{}"))

    assert (response.status, _body(response)) == (403, {"message": "Forbidden"})
    assert function.events == []


def test_wrong_key_and_disabled_key_are_403():
    disabled = ApiKey(id="k2", value="disabled", enabled=False)
    front = _front(keys=StaticKeyStore([(KEY, PlanBinding("p", UsagePlanLimits())), (disabled, None)]))

    for value in ("nope", "disabled"):
        response = front.handle(HttpRequest("POST", "/v1/payments", [("x-api-key", value)], b"{}"))
        assert (response.status, _body(response)) == (403, {"message": "Forbidden"})


def test_a_key_outside_every_usage_plan_of_the_stage_is_403():
    front = _front(keys=StaticKeyStore([(KEY, None)]))

    assert front.handle(_request(body=b"{}")).status == 403


def test_unknown_route_is_api_gateways_missing_authentication_token():
    response = _front().handle(_request("GET", "/v1/nowhere"))

    assert (response.status, _body(response)) == (403, {"message": "Missing Authentication Token"})


def test_route_without_api_key_requirement_needs_no_key():
    function = RecordingFunction({"statusCode": 200, "body": "ok"})

    response = _front(function).handle(HttpRequest("GET", "/v1/health", [], b""))

    assert response.status == 200
    assert function.events[0][1]["requestContext"]["identity"]["apiKeyId"] is None


def test_over_the_rate_is_429_too_many_requests():
    front = _front(limits=UsagePlanLimits(rate_limit=Decimal("0.001"), burst_limit=2))

    statuses = [front.handle(_request(body=b"{}")).status for _ in range(3)]
    last = front.handle(_request(body=b"{}"))

    assert statuses == [202, 202, 429]
    assert _body(last) == {"message": "Too Many Requests"}


def test_over_the_quota_is_429_limit_exceeded():
    front = _front(limits=UsagePlanLimits(quota_limit=1))

    first, second = front.handle(_request(body=b"{}")), front.handle(_request(body=b"{}"))

    assert first.status == 202
    assert (second.status, _body(second)) == (429, {"message": "Limit Exceeded"})


def test_proxy_event_has_the_v1_shape_with_the_submitters_key_id():
    function = RecordingFunction()
    request = HttpRequest(
        "POST",
        "/v1/payments?a=1&b=x&b=y&empty=",
        [("x-api-key", KEY.value), ("Idempotency-Key", "k-1"), ("X-Multi", "1"), ("X-Multi", "2")],
        b'{"amount": "1.00"}',
        source_ip="10.0.0.9",
        host="127.0.0.1:3000",
    )

    _front(function).handle(request)

    function_id, event = function.events[0]
    assert function_id == "IngestFn"
    assert event["resource"] == "/payments"
    assert event["path"] == "/payments"
    assert event["httpMethod"] == "POST"
    assert event["headers"]["Idempotency-Key"] == "k-1"
    assert event["headers"]["X-Multi"] == "2"
    assert event["multiValueHeaders"]["X-Multi"] == ["1", "2"]
    assert event["queryStringParameters"] == {"a": "1", "b": "y", "empty": ""}
    assert event["multiValueQueryStringParameters"]["b"] == ["x", "y"]
    assert event["pathParameters"] is None
    assert event["body"] == '{"amount": "1.00"}'
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["identity"]["apiKeyId"] == KEY.id
    assert context["identity"]["apiKey"] == KEY.value
    assert context["identity"]["sourceIp"] == "10.0.0.9"
    assert context["stage"] == "v1"
    assert context["resourcePath"] == "/payments"
    assert context["path"] == "/v1/payments"
    assert context["httpMethod"] == "POST"
    assert context["requestId"]
    assert isinstance(context["requestTimeEpoch"], int)


def test_path_parameters_and_empty_query_and_body():
    function = RecordingFunction({"statusCode": 200, "body": "{}"})

    _front(function).handle(_request("GET", "/v1/payments/abc%2Dd"))

    event = function.events[0][1]
    assert event["resource"] == "/payments/{transaction_id}"
    assert event["pathParameters"] == {"transaction_id": "abc-d"}
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["body"] is None


def test_binary_media_types_are_base64_encoded():
    function = RecordingFunction()
    front = _front(function, binary_media_types=("application/octet-stream",))

    front.handle(_request(headers=[("Content-Type", "application/octet-stream")], body=b"\x00\xff"))

    event = function.events[0][1]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\xff"


def test_function_error_is_502_internal_server_error():
    front = _front(RecordingFunction(error=RuntimeError("boom")))

    response = front.handle(_request(body=b"{}"))

    assert (response.status, _body(response)) == (502, {"message": "Internal server error"})


def test_malformed_proxy_response_is_502():
    front = _front(RecordingFunction({"body": "no status"}))

    assert front.handle(_request(body=b"{}")).status == 502


def test_proxy_response_maps_status_headers_and_multi_value_headers():
    response = map_proxy_response(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "application/json", "X-One": "1"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": '{"x": 1}',
            "isBase64Encoded": False,
        }
    )

    assert response.status == 201
    assert ("X-One", "1") in response.headers
    assert [v for k, v in response.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert response.body == b'{"x": 1}'


def test_proxy_response_decodes_a_base64_body_and_defaults_the_content_type():
    response = map_proxy_response(
        {"statusCode": 200, "body": base64.b64encode(b"\x01\x02").decode(), "isBase64Encoded": True}
    )

    assert response.body == b"\x01\x02"
    assert ("Content-Type", "application/json") in response.headers


@pytest.mark.parametrize(
    "result",
    [None, "text", {"statusCode": "abc"}, {"statusCode": 200, "body": 5}, {"statusCode": 200, "extra": 1}],
)
def test_invalid_proxy_responses_are_malformed(result):
    with pytest.raises(MalformedProxyResponse):
        map_proxy_response(result)


def test_template_gateway_responses_reshape_the_errors():
    front = _front(
        gateway_responses={
            "INVALID_API_KEY": {
                "StatusCode": 403,
                "ResponseTemplates": {
                    "application/json": '{"error": {"message": $context.error.messageString}}'
                },
            }
        }
    )

    response = front.handle(HttpRequest("POST", "/v1/payments", [], b"{}"))

    assert (response.status, _body(response)) == (403, {"error": {"message": "Forbidden"}})


def test_paths_without_the_stage_prefix_are_served_too():
    function = RecordingFunction()

    assert _front(function).handle(_request(path="/payments", body=b"{}")).status == 202


def test_openapi_and_swagger_ui_are_served_from_the_provider():
    front = ApiFront(
        _api(),
        RecordingFunction(),
        StaticKeyStore([]),
        openapi=lambda server: json.dumps({"openapi": "3.1.0", "servers": [{"url": server}]}),
    )

    spec = front.handle(HttpRequest("GET", "/openapi.json", [], b""))
    docs = front.handle(HttpRequest("GET", "/docs", [], b""))

    assert _body(spec)["servers"] == [{"url": "/v1"}]
    assert docs.status == 200
    assert b"SwaggerUIBundle" in docs.body


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_real_http_round_trip_and_port_in_use():
    function = RecordingFunction(
        {"statusCode": 202, "headers": {"X-Test": "yes"}, "body": '{"accepted": true}'}
    )
    server = ApiHttpServer(_front(function), port=0)
    server.start()
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/v1/payments",
            data=b'{"a": 1}',
            headers={"x-api-key": KEY.value, "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 202
            assert response.headers["X-Test"] == "yes"
            assert response.headers["x-amzn-RequestId"]
            assert json.loads(response.read()) == {"accepted": True}
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/v1/payments/x", timeout=5)
        assert denied.value.code == 403

        with pytest.raises(PortInUse, match=str(server.port)):
            ApiHttpServer(_front(), port=server.port)
    finally:
        server.stop()
    assert function.events[0][1]["body"] == '{"a": 1}'


def test_concurrent_requests_are_served_in_parallel():
    release = threading.Event()
    entered = []

    def slow(function_id, event):
        entered.append(1)
        release.wait(5)
        return {"statusCode": 200, "body": "{}"}

    server = ApiHttpServer(_front(slow), port=_free_port())
    server.start()
    results = []

    def call():
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/v1/payments", data=b"{}", headers={"x-api-key": KEY.value}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            results.append(response.status)

    threads = [threading.Thread(target=call) for _ in range(3)]
    try:
        for thread in threads:
            thread.start()
        deadline = threading.Event()
        for _ in range(100):
            if len(entered) == 3:
                break
            deadline.wait(0.02)
        assert len(entered) == 3
        release.set()
        for thread in threads:
            thread.join(5)
    finally:
        server.stop()
    assert results == [200, 200, 200]


def test_a_cors_preflight_is_answered_by_the_front_and_needs_a_key_only_where_sam_adds_one():
    from payctl.local.routes import Cors

    function = RecordingFunction()
    open_front = _front(function, cors=Cors("'https://d.example'", "'x-api-key'", key_required=False))
    keyed_front = _front(function, cors=Cors("'https://d.example'", key_required=True))
    preflight = HttpRequest("OPTIONS", "/v1/payments/abc", [("Origin", "https://d.example")], b"")

    answered = open_front.handle(preflight)
    refused = keyed_front.handle(preflight)
    keyed = keyed_front.handle(_request("OPTIONS", "/v1/payments/abc"))

    assert answered.status == 200
    assert ("Access-Control-Allow-Origin", "https://d.example") in answered.headers
    assert ("Access-Control-Allow-Methods", "GET,OPTIONS") in answered.headers
    assert refused.status == 403 and keyed.status == 200
    assert function.events == []
