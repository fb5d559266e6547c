"""Shim 12: the template's REST API, stage, key and usage plan exist in moto (served by payctl.local)."""

from __future__ import annotations

import boto3


def test_api_methods_from_the_openapi_body_require_the_api_key(stack):
    apigateway = boto3.client("apigateway", region_name=stack.region)

    resources = apigateway.get_resources(restApiId=stack.resources["PaymentsApi"])["items"]
    methods = {
        (resource["path"], verb): method.get("apiKeyRequired")
        for resource in resources
        for verb, method in resource.get("resourceMethods", {}).items()
    }

    assert ("/payments", "POST") in methods
    assert ("/payments/{transaction_id}", "GET") in methods
    assert all(required for (_, verb), required in methods.items() if verb != "OPTIONS")
    # The CORS preflights (SAM's mock OPTIONS methods) are imported too, and need no key.
    assert ("/audit", "OPTIONS") in methods
    assert not any(required for (_, verb), required in methods.items() if verb == "OPTIONS")


def test_the_api_key_output_names_a_generated_key_in_the_usage_plan(stack):
    apigateway = boto3.client("apigateway", region_name=stack.region)
    key_id = stack.outputs["ApiKeyId"]

    key = apigateway.get_api_key(apiKey=key_id, includeValue=True)
    plans = apigateway.get_usage_plans(keyId=key_id)["items"]

    assert key["enabled"] is True
    assert len(key["value"]) >= 20
    assert stack.name not in key["value"]
    assert len(plans) == 1
    assert plans[0]["apiStages"] == [{"apiId": stack.resources["PaymentsApi"], "stage": "v1"}]
    assert stack.outputs["ApiUrl"].endswith("/v1")
