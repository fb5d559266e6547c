"""The REST API: every route behind the API key, a usage plan, and no key value anywhere in the stack."""

from __future__ import annotations

import json
from typing import Any

CONTRACT_ROUTES = {
    ("POST", "/payments"),
    ("POST", "/payments/batch"),
    ("GET", "/payments/{transaction_id}"),
    ("GET", "/payments/{transaction_id}/audit"),
    ("GET", "/audit"),
    ("GET", "/audit/counters"),
}

CONTRACT_OUTPUTS = {
    "ApiUrl",
    "ApiKeyId",
    "DashboardApiKeyId",
    "AlarmTopicArn",
    "PaymentsQueueUrl",
    "PaymentsQueueArn",
    "PaymentsDLQUrl",
    "PaymentsDLQArn",
    "TransactionsTableName",
    "SettlementsTableName",
    "AuditTableName",
    "IdempotencyTableName",
    "ArchiveBucketName",
    "StateMachineArn",
    "IngestApiFunctionName",
    "IngestConsumerFunctionName",
    "ValidationFunctionName",
    "FraudFunctionName",
    "SettlementFunctionName",
    "AuditTrailFunctionName",
    "AuditCountersFunctionName",
    "ArchiveFunctionName",
}


def _api_events(resources: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"]): event["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "Api"
    }


def test_api_serves_exactly_the_contract_routes_on_the_ingest_function(resources: dict[str, Any]) -> None:
    """Given the function events, the API exposes the five contract routes, all on IngestApiFunction."""
    routes = _api_events(resources)
    ingest_events = resources["IngestApiFunction"]["Properties"]["Events"].values()

    assert set(routes) == CONTRACT_ROUTES
    assert all(event["Properties"]["RestApiId"] == {"Ref": "PaymentsApi"} for event in ingest_events)


def test_every_api_route_requires_the_api_key(resources: dict[str, Any], translated: dict[str, Any]) -> None:
    """Given the API, when a request arrives without x-api-key on any route, API Gateway must reject it.

    Checked twice: the SAM source (API default and per-route Auth) and the OpenAPI body SAM generates,
    which is what API Gateway enforces.
    """
    api_auth = resources["PaymentsApi"]["Properties"]["Auth"]
    body = translated["Resources"]["PaymentsApi"]["Properties"]["Body"]
    scheme = body["components"]["securitySchemes"]["api_key"]
    generated = {
        (method.upper(), path): operation
        for path, operations in body["paths"].items()
        for method, operation in operations.items()
    }

    assert api_auth["ApiKeyRequired"] is True
    assert all(props["Auth"]["ApiKeyRequired"] is True for props in _api_events(resources).values())
    assert scheme == {"type": "apiKey", "name": "x-api-key", "in": "header"}
    preflights = {route: operation for route, operation in generated.items() if route[0] == "OPTIONS"}
    routes = {route: operation for route, operation in generated.items() if route[0] != "OPTIONS"}
    assert set(routes) == CONTRACT_ROUTES
    assert all({"api_key": []} in operation["security"] for operation in routes.values())
    # SAM's CORS preflights: a mock answer on every path, which a browser sends without the key.
    assert {path for _, path in preflights} == {path for _, path in CONTRACT_ROUTES}
    assert all(op["x-amazon-apigateway-integration"]["type"] == "mock" for op in preflights.values())
    assert not any(op.get("security") for op in preflights.values())


def test_usage_plan_throttles_and_quotas_each_key_per_day(resources: dict[str, Any]) -> None:
    """Given the usage plan, throttle and daily quota come from parameters and the plan is per API."""
    plan = resources["PaymentsApi"]["Properties"]["Auth"]["UsagePlan"]

    assert plan["CreateUsagePlan"] == "PER_API"
    assert plan["Throttle"] == {
        "RateLimit": {"Ref": "ApiThrottleRateLimit"},
        "BurstLimit": {"Ref": "ApiThrottleBurstLimit"},
    }
    assert plan["Quota"] == {"Limit": {"Ref": "ApiQuotaLimit"}, "Period": "DAY"}


def test_stack_outputs_api_key_id_and_no_derived_key_value(
    template: dict[str, Any], translated: dict[str, Any]
) -> None:
    """Given the outputs, ApiKeyId is a Ref to the generated key (its id) and no key value is ever built.

    A key value derived from the stack name or account id is guessable by anyone who knows either; API
    Gateway must generate it, and only payctl reveals it on demand.
    """
    outputs = template["Outputs"]
    generated = translated["Resources"]
    api_keys = {lid: res for lid, res in generated.items() if res["Type"] == "AWS::ApiGateway::ApiKey"}
    sub_or_join = [
        name
        for name, output in outputs.items()
        if isinstance(output["Value"], dict) and {"Fn::Sub", "Fn::Join"} & set(output["Value"])
    ]

    assert set(outputs) == CONTRACT_OUTPUTS
    assert outputs["ApiKeyId"]["Value"] == {"Ref": "PaymentsApiApiKey"}
    assert outputs["DashboardApiKeyId"]["Value"] == {"Ref": "DashboardApiKey"}
    assert sorted(api_keys) == ["DashboardApiKey", "PaymentsApiApiKey"]
    assert all("Value" not in key["Properties"] for key in api_keys.values())
    assert sub_or_join == ["ApiUrl"]
    assert "key" not in json.dumps(outputs["ApiUrl"]["Value"]).lower()


def test_no_resource_sets_an_api_key_value(template: dict[str, Any]) -> None:
    """Given the source template, no explicit AWS::ApiGateway::ApiKey with a Value sneaks in beside SAM's."""
    explicit_keys = [
        res for res in template["Resources"].values() if res["Type"] == "AWS::ApiGateway::ApiKey"
    ]

    assert all("Value" not in key.get("Properties", {}) for key in explicit_keys)


def test_access_log_format_never_records_the_api_key_value(resources: dict[str, Any]) -> None:
    """Given access logging, the format logs the key id; $context.identity.apiKey would log the secret."""
    setting = resources["PaymentsApi"]["Properties"]["AccessLogSetting"]["Fn::If"][1]
    record_format = setting["Format"]

    assert "$context.identity.apiKeyId" in record_format
    assert '$context.identity.apiKey"' not in record_format
    assert json.loads(record_format.replace("\n", " "))["apiKeyId"] == "$context.identity.apiKeyId"


def test_stage_traces_and_never_logs_request_bodies(
    resources: dict[str, Any], template: dict[str, Any]
) -> None:
    """Given the stage settings, X-Ray is on and full request/response data tracing stays off."""
    settings = resources["PaymentsApi"]["Properties"]["MethodSettings"]

    assert template["Globals"]["Api"]["TracingEnabled"] is True
    assert all(setting["DataTraceEnabled"] is False for setting in settings)
    assert resources["PaymentsApi"]["Properties"]["StageName"] == "v1"


def test_gateway_errors_use_the_api_error_body_shape(resources: dict[str, Any]) -> None:
    """Given API Gateway's own rejections (bad key, throttle, quota), clients get {"error": {"code", ...}}."""
    responses = resources["PaymentsApi"]["Properties"]["GatewayResponses"]

    for name in ("INVALID_API_KEY", "THROTTLED", "QUOTA_EXCEEDED", "DEFAULT_4XX", "DEFAULT_5XX"):
        body = responses[name]["ResponseTemplates"]["application/json"]
        assert body.startswith('{"error": {"code": "'), name
    assert responses["THROTTLED"]["StatusCode"] == 429
    assert responses["QUOTA_EXCEEDED"]["StatusCode"] == 429
