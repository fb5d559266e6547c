"""The route table comes from the template, never from a second hand-written list."""

from decimal import Decimal
from pathlib import Path

import pytest

from payctl.local.routes import IMPLICIT_API, IMPLICIT_STAGE, NoRoute, Route, RouteTable, api_definitions
from payctl.local.template_parameters import Unresolvable, parameter_values, resolve
from payctl.local.throttle import QuotaPeriod
from payctl.runtime.cfn_yaml import load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture(scope="module")
def template():
    return load_template(TEMPLATE)


def _api_events(template):
    events = set()
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event["Type"] == "Api":
                props = event["Properties"]
                events.add((logical_id, props["Path"], props["Method"].upper()))
    return events


def test_every_api_event_of_the_template_is_a_route(template):
    api = api_definitions(template, parameter_values(template))["PaymentsApi"]

    served = {(route.function_id, route.resource_path, route.method) for route in api.routes}

    assert served == _api_events(template)
    assert served, "the template declares no API events"


def test_stage_usage_plan_and_api_key_come_from_the_template_and_its_parameters(template):
    params = parameter_values(template, {"ApiThrottleRateLimit": "7", "ApiThrottleBurstLimit": "3"})

    api = api_definitions(template, params)["PaymentsApi"]

    assert api.stage_name == template["Resources"]["PaymentsApi"]["Properties"]["StageName"]
    assert api.usage_plan is not None
    assert api.usage_plan.rate_limit == Decimal(7)
    assert api.usage_plan.burst_limit == 3
    assert api.usage_plan.quota_limit == int(template["Parameters"]["ApiQuotaLimit"]["Default"])
    assert api.usage_plan.quota_period is QuotaPeriod.DAY
    assert all(route.api_key_required for route in api.routes)


def test_unknown_parameter_override_is_refused(template):
    with pytest.raises(ValueError, match="NoSuchParameter"):
        parameter_values(template, {"NoSuchParameter": "1"})


def _table(*specs):
    return RouteTable([Route("api", path, method, "Fn", True, path) for path, method in specs])


def test_path_parameters_are_extracted():
    table = _table(("/payments/{transaction_id}", "GET"), ("/payments/{transaction_id}/audit", "GET"))

    matched = table.match("get", "/payments/abc/audit")

    assert matched.route.resource_path == "/payments/{transaction_id}/audit"
    assert matched.path_parameters == {"transaction_id": "abc"}


def test_literal_segments_win_over_parameters_whatever_the_order():
    table = _table(("/payments/{transaction_id}", "POST"), ("/payments/batch", "POST"))

    assert table.match("POST", "/payments/batch").route.resource_path == "/payments/batch"
    assert table.match("POST", "/payments/other").path_parameters == {"transaction_id": "other"}


def test_greedy_parameter_takes_the_rest_of_the_path_and_any_matches_every_method():
    table = _table(("/files/{proxy+}", "ANY"))

    matched = table.match("DELETE", "/files/a/b/c")

    assert matched.path_parameters == {"proxy": "a/b/c"}


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/payments"), ("POST", "/nope"), ("GET", "/payments/a/b")]
)
def test_unknown_route_or_method_is_no_route(method, path):
    table = _table(("/payments", "POST"), ("/payments/{id}", "GET"))

    with pytest.raises(NoRoute):
        table.match(method, path)


def test_events_without_rest_api_id_land_on_the_implicit_api_and_its_prod_stage():
    template = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Events": {"Hello": {"Type": "Api", "Properties": {"Path": "/hello", "Method": "get"}}}
                },
            }
        }
    }

    api = api_definitions(template, {})[IMPLICIT_API]

    assert api.stage_name == IMPLICIT_STAGE
    assert api.usage_plan is None
    assert [(r.resource_path, r.method, r.api_key_required) for r in api.routes] == [("/hello", "GET", False)]


def test_resolve_replaces_parameter_refs_and_subs_and_refuses_the_rest():
    params = {"Env": "dev"}

    assert resolve({"A": {"Ref": "Env"}, "B": [{"Fn::Sub": "x-${Env}"}]}, params) == {
        "A": "dev",
        "B": ["x-dev"],
    }
    with pytest.raises(Unresolvable):
        resolve({"Fn::GetAtt": ["Queue", "Arn"]}, params)
    with pytest.raises(Unresolvable):
        resolve({"Fn::Sub": "${AWS::Region}"}, params)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"QueueVisibilityTimeoutSeconds": "2"}, "below its MinValue"),
        ({"ConsumerMaxConcurrency": "5000"}, "above its MaxValue"),
        ({"Environment": "qa"}, "is not one of"),
        ({"EnvironmentSuffix": "Not_Valid"}, "does not match"),
        ({"ApiThrottleRateLimit": "fast"}, "is not a number"),
    ],
)
def test_overrides_are_checked_against_the_parameters_constraints(template, override, message):
    with pytest.raises(ValueError, match=message):
        parameter_values(template, override)


def test_valid_overrides_pass(template):
    values = parameter_values(template, {"QueueVisibilityTimeoutSeconds": "60", "EnvironmentSuffix": "e2e"})

    assert values["QueueVisibilityTimeoutSeconds"] == "60"


def test_the_template_s_cors_allows_only_the_dashboards_origin_and_needs_no_key_for_a_preflight(template):
    parameters = {**parameter_values(template), "DashboardOrigin": "https://dash.example"}

    cors = api_definitions(template, parameters)["PaymentsApi"].cors

    assert cors is not None and not cors.key_required
    assert dict(cors.preflight_headers(("GET",))) == {
        "Access-Control-Allow-Origin": "https://dash.example",
        "Access-Control-Allow-Headers": "x-api-key,content-type",
        "Access-Control-Allow-Methods": "GET,OPTIONS",
        "Access-Control-Max-Age": "600",
    }
    assert dict(cors.preflight_headers(("ANY",)))["Access-Control-Allow-Methods"] == (
        "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT"
    )
