"""Keys and usage plans are read from API Gateway (moto), as the deployed stack holds them."""

from decimal import Decimal

import boto3
import pytest
from moto import mock_aws

from payctl.local.api_keys import ApiGatewayKeyStore
from payctl.local.throttle import QuotaPeriod


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def apigateway(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("apigateway", region_name="us-east-1")


def _api_with_plan(apigateway, stage="v1", rate=5.5, burst=7, quota=100):
    api_id = apigateway.create_rest_api(name="payments")["id"]
    plan = apigateway.create_usage_plan(
        name="plan",
        apiStages=[{"apiId": api_id, "stage": stage}],
        throttle={"rateLimit": rate, "burstLimit": burst},
        quota={"limit": quota, "period": "DAY"},
    )
    return api_id, plan["id"]


def _key(apigateway, plan_id=None, enabled=True):
    key = apigateway.create_api_key(name="submitter", enabled=enabled)
    if plan_id:
        apigateway.create_usage_plan_key(usagePlanId=plan_id, keyId=key["id"], keyType="API_KEY")
    return key


def test_a_key_in_the_stages_plan_authenticates_with_the_plans_limits(apigateway):
    api_id, plan_id = _api_with_plan(apigateway)
    key = _key(apigateway, plan_id)
    store = ApiGatewayKeyStore(apigateway, api_id)

    found, binding = store.authenticate(key["value"], "PaymentsApi", "v1")

    assert found.id == key["id"]
    assert binding.plan_id == plan_id
    assert binding.limits.rate_limit == Decimal("5.5")
    assert binding.limits.burst_limit == 7
    assert binding.limits.quota_limit == 100
    assert binding.limits.quota_period is QuotaPeriod.DAY


def test_unknown_and_disabled_keys_do_not_authenticate(apigateway):
    api_id, plan_id = _api_with_plan(apigateway)
    disabled = _key(apigateway, plan_id, enabled=False)
    store = ApiGatewayKeyStore(apigateway, api_id)

    assert store.authenticate("no-such-key", "PaymentsApi", "v1") is None
    assert store.authenticate(disabled["value"], "PaymentsApi", "v1") is None


def test_a_key_outside_the_stages_plans_has_no_binding(apigateway):
    api_id, _ = _api_with_plan(apigateway, stage="other")
    key = _key(apigateway)
    store = ApiGatewayKeyStore(apigateway, api_id)

    assert store.authenticate(key["value"], "PaymentsApi", "v1")[1] is None


def test_a_key_created_later_is_seen_once_the_cache_expires(apigateway):
    api_id, plan_id = _api_with_plan(apigateway)
    clock = Clock()
    store = ApiGatewayKeyStore(apigateway, api_id, cache_seconds=2, clock=clock)
    store.authenticate("warm-up", "PaymentsApi", "v1")
    key = _key(apigateway, plan_id)

    assert store.authenticate(key["value"], "PaymentsApi", "v1") is None
    clock.now = 3
    assert store.authenticate(key["value"], "PaymentsApi", "v1") is not None


def test_reveal_returns_the_generated_value(apigateway):
    key = _key(apigateway)

    assert ApiGatewayKeyStore(apigateway, "any").reveal(key["id"]) == key["value"]
