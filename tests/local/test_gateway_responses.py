"""API Gateway's own error answers, by default and as the template's GatewayResponses reshape them."""

import json

from payctl.local.gateway_responses import GatewayResponses


def test_without_customisation_the_body_is_api_gateways_message():
    rendered = GatewayResponses().render("INVALID_API_KEY", request_id="r-1")

    assert rendered.status == 403
    assert json.loads(rendered.body) == {"message": "Forbidden"}
    assert ("x-amzn-ErrorType", "ForbiddenException") in rendered.headers


def test_throttle_and_quota_are_both_429_with_different_messages():
    responses = GatewayResponses()

    throttled = responses.render("THROTTLED", request_id="r")
    exhausted = responses.render("QUOTA_EXCEEDED", request_id="r")

    assert (throttled.status, json.loads(throttled.body)) == (429, {"message": "Too Many Requests"})
    assert (exhausted.status, json.loads(exhausted.body)) == (429, {"message": "Limit Exceeded"})


def test_a_configured_type_changes_status_body_and_headers():
    responses = GatewayResponses.from_template(
        {
            "MISSING_AUTHENTICATION_TOKEN": {
                "StatusCode": 404,
                "ResponseTemplates": {
                    "application/json": '{"error": {"message": $context.error.messageString}}'
                },
                "ResponseParameters": {
                    "gatewayresponse.header.Access-Control-Allow-Origin": "'*'",
                    "gatewayresponse.header.X-Echo": "method.request.header.X-Trace",
                },
            }
        }
    )

    rendered = responses.render(
        "MISSING_AUTHENTICATION_TOKEN", request_id="r", request_headers={"x-trace": "t1"}
    )

    assert rendered.status == 404
    assert json.loads(rendered.body) == {"error": {"message": "Missing Authentication Token"}}
    assert ("Access-Control-Allow-Origin", "*") in rendered.headers
    assert ("X-Echo", "t1") in rendered.headers


def test_unset_types_fall_back_to_default_4xx_or_5xx_keeping_their_status():
    responses = GatewayResponses.from_template(
        {
            "DEFAULT_4XX": {
                "ResponseTemplates": {
                    "application/json": '{"kind": "4xx", "type": "$context.error.responseType"}'
                }
            },
            "DEFAULT_5XX": {
                "ResponseTemplates": {"application/json": '{"kind": "5xx", "id": "$context.requestId"}'}
            },
        }
    )

    forbidden = responses.render("INVALID_API_KEY", request_id="r-9")
    failed = responses.render("INTEGRATION_FAILURE", request_id="r-9")

    assert (forbidden.status, json.loads(forbidden.body)) == (403, {"kind": "4xx", "type": "INVALID_API_KEY"})
    assert (failed.status, json.loads(failed.body)) == (502, {"kind": "5xx", "id": "r-9"})


def test_sam_s_grouped_response_parameters_become_headers():
    responses = GatewayResponses.from_template(
        {
            "INVALID_API_KEY": {
                "ResponseParameters": {"Headers": {"Access-Control-Allow-Origin": "'https://d.example'"}}
            }
        }
    )

    rendered = responses.render("INVALID_API_KEY", request_id="r")

    assert ("Access-Control-Allow-Origin", "https://d.example") in rendered.headers
