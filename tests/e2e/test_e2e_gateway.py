"""What API Gateway answers by itself: API keys, the usage plan's throttle, unknown routes, the docs."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid

import boto3

from payctl.runtime.cfn_yaml import load_template
from payctl.tools.api_client import ApiClient


def _gateway_response_message(local_stack, response_type):
    """The message the template's GatewayResponses put in the body for ``response_type``."""
    template = load_template(local_stack.config.template)
    responses = template["Resources"]["PaymentsApi"]["Properties"]["GatewayResponses"]
    return responses[response_type]


def test_no_api_key_is_403_and_never_reaches_the_function(api, payment, idempotency_key):
    response = api.post("/payments", payment(), {"Idempotency-Key": idempotency_key()}, api_key=None)

    assert response.status == 403
    # The template's GatewayResponses reshape API Gateway's {"message": "Forbidden"}.
    assert response.json() == {"error": {"code": "invalid_api_key", "message": "Forbidden"}}
    assert response.headers["x-amzn-errortype"] == "ForbiddenException"


def test_a_wrong_api_key_is_403(api):
    response = api.get("/payments/anything", api_key="not-the-key")

    assert response.status == 403
    assert response.json()["error"]["message"] == "Forbidden"


def test_the_key_id_reaches_the_function_as_the_submitter(api, payment, idempotency_key, local_stack, wait):
    accepted = api.post("/payments", payment(), {"Idempotency-Key": idempotency_key()})
    transaction_id = accepted.json()["transaction_id"]

    def received():
        response = api.get(f"/payments/{transaction_id}/audit")
        events = response.json()["events"] if response.status == 200 else []
        return next((event for event in events if event["action"] == "payment.received"), None)

    event = wait(received, 30, what="the payment.received audit row")
    assert event["detail"]["submitter"] == local_stack.api_key_id


def test_an_unknown_route_is_the_templates_404(api, local_stack):
    response = api.get("/nowhere")

    configured = _gateway_response_message(local_stack, "MISSING_AUTHENTICATION_TOKEN")
    assert response.status == int(configured["StatusCode"])
    assert response.json()["error"]["code"] == "route_not_found"


def _key_on_a_small_plan(local_stack, rate, burst):
    """An operator's new key on its own usage plan for this API's stage, as in API Gateway."""
    apigateway = boto3.client("apigateway", region_name=local_stack.region)
    rest_api_id = local_stack.stack.resources[local_stack.api.api_id]
    plan = apigateway.create_usage_plan(
        name=f"small-{uuid.uuid4().hex[:8]}",
        apiStages=[{"apiId": rest_api_id, "stage": local_stack.api.stage_name}],
        throttle={"rateLimit": rate, "burstLimit": burst},
    )
    key = apigateway.create_api_key(name=f"small-{uuid.uuid4().hex[:8]}", enabled=True)
    apigateway.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    return key["value"]


def test_over_the_usage_plans_rate_is_429_then_the_bucket_refills(local_stack, wait):
    burst = 3
    api_key = _key_on_a_small_plan(local_stack, rate=2, burst=burst)
    probe = ApiClient(local_stack.api_url, api_key)
    # Key and plan changes reach the front within its cache's lifetime, as in API Gateway.
    wait(lambda: probe.get("/payments/00000000-0000-0000-0000-000000000000").status == 404, 10)
    time.sleep(burst / 2)
    responses = []
    lock = threading.Lock()
    start = threading.Barrier(burst * 3)

    def call() -> None:
        client = ApiClient(local_stack.api_url, api_key)
        start.wait()
        response = client.get("/payments/00000000-0000-0000-0000-000000000000")
        with lock:
            responses.append(response)
        client.close()

    threads = [threading.Thread(target=call) for _ in range(burst * 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    statuses = [response.status for response in responses]
    assert statuses.count(429) >= burst
    assert set(statuses) <= {404, 429}
    throttled_body = next(response for response in responses if response.status == 429).json()
    assert throttled_body == {"error": {"code": "throttled", "message": "Too Many Requests"}}
    throttled = ApiClient(local_stack.api_url, api_key)
    # The refill rate brings requests back within a second or so.
    wait(lambda: throttled.get("/payments/00000000-0000-0000-0000-000000000000").status == 404, 5)


def test_the_openapi_spec_and_swagger_ui_are_served(local_stack):
    base = local_stack.api_url.rsplit("/", 1)[0]

    with urllib.request.urlopen(f"{base}/openapi.json", timeout=30) as response:
        spec = json.loads(response.read())
    with urllib.request.urlopen(f"{base}/docs", timeout=30) as response:
        page = response.read().decode()

    assert {"/payments", "/payments/batch", "/payments/{transaction_id}"} <= set(spec["paths"])
    assert spec["info"]["title"] == "Payments API"
    assert spec["servers"] == [{"url": f"/{local_stack.api.stage_name}"}]
    assert "SwaggerUIBundle" in page


def test_a_function_error_is_the_templates_502(api, local_stack):
    local_stack.stack.lambda_faults.inject("IngestApiFunction", "Lambda.ServiceException", times=1)
    try:
        response = api.get("/payments/00000000-0000-0000-0000-000000000000")
    finally:
        local_stack.stack.lambda_faults.clear("IngestApiFunction")

    assert response.status == 502
    # DEFAULT_5XX in the template reshapes API Gateway's {"message": "Internal server error"}.
    assert response.json() == {"error": {"code": "internal_error", "message": "Internal server error"}}


def test_other_processes_see_the_same_aws_resources_through_the_moto_endpoint(local_stack, aws):
    tables = aws("dynamodb").list_tables()["TableNames"]
    queues = aws("sqs").list_queues()["QueueUrls"]

    assert local_stack.outputs["TransactionsTableName"] in tables
    assert any(url.endswith("/" + local_stack.outputs["PaymentsDLQUrl"].rsplit("/", 1)[1]) for url in queues)
    assert local_stack.moto_endpoint.startswith("http://127.0.0.1:")


def test_only_the_dashboard_key_reads_every_payments_audit(
    api, payctl, local_stack, payment, idempotency_key, wait
):
    """The submitters' key reads its own payments; the audit range and counters need the dashboards' key."""
    dashboard_key = payctl("get-api-key", "--dashboard", "--include-value").stdout.strip()
    assert dashboard_key == local_stack.api_key_value("DashboardApiKeyId")
    assert payctl("get-api-key", "--dashboard").stdout.strip() == local_stack.outputs["DashboardApiKeyId"]
    # From just before the payment: earlier tests leave more than a page of rows in the last hour.
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5))
    accepted = api.post("/payments", payment(), {"Idempotency-Key": idempotency_key()})
    transaction_id = accepted.json()["transaction_id"]
    day = time.strftime("%Y-%m-%d", time.gmtime())

    def listed():
        response = api.get(f"/audit?from={since}&limit=1000", api_key=dashboard_key)
        assert response.status == 200
        events = response.json()["events"]
        return next((e for e in events if e["transaction_id"] == transaction_id), None)

    assert wait(listed, 30, what="the payment in the dashboards' audit range")
    counters = api.get(f"/audit/counters?day={day}", api_key=dashboard_key)
    assert counters.status == 200 and counters.json()["counters"]["payment.received"] >= 1
    for path in ("/audit", f"/audit/counters?day={day}"):
        refused = api.get(path)
        assert refused.status == 403
        assert refused.json()["error"]["code"] == "forbidden"
