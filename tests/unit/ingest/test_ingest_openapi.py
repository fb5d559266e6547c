"""The OpenAPI spec tells the whole truth: every status each route can return, with its body, and the
rules (amount grammar, currencies, metadata keys) a client must follow."""

from __future__ import annotations

import json
import re
from typing import Annotated

import pytest
from aws_lambda_powertools.event_handler.openapi.params import Body

from ingest_svc.handlers import api
from ingest_svc.handlers.openapi import API_KEY_SCHEME, PaymentsResolver, api_key_scheme
from ingest_svc.models import PaymentRequest
from payments_core.models import METADATA_KEY_PATTERN
from payments_core.money import AMOUNT_PATTERN, SUPPORTED_CURRENCIES
from tests import factories
from tests.unit.ingest.conftest import FakeContext

ROUTES = {
    ("/payments", "post"): {"202", "413", "415", "422"},
    ("/payments/batch", "post"): {"207", "413", "415", "422"},
    ("/payments/{transaction_id}", "get"): {"200", "404"},
    ("/payments/{transaction_id}/audit", "get"): {"200", "404"},
    ("/audit", "get"): {"200"},
    ("/audit/counters", "get"): {"200"},
}
# API Gateway's own answers (403 invalid_api_key, 429, 502, 504) reach every route, and so can the
# function's 400, 500 and 503.
EVERY_ROUTE = {"400", "403", "429", "500", "502", "503", "504"}


@pytest.fixture(scope="module")
def spec() -> dict:
    return json.loads(api.app.get_openapi_json_schema())


def _schema(spec: dict, name: str) -> dict:
    return spec["components"]["schemas"][name]


@pytest.mark.parametrize(("path", "method"), sorted(ROUTES))
def test_every_status_a_route_can_return_is_documented_with_its_body(spec, path, method):
    responses = spec["paths"][path][method]["responses"]

    assert set(responses) == ROUTES[(path, method)] | EVERY_ROUTE
    for status, response in responses.items():
        ref = response["content"]["application/json"]["schema"]["$ref"]
        if status[0] in "45":
            assert ref.endswith("/ErrorResponse"), (path, status)


def test_the_unreachable_401_is_gone(spec):
    assert all("401" not in op["responses"] for item in spec["paths"].values() for op in item.values())


def test_currency_is_an_enum_of_the_supported_currencies(spec):
    payment = _schema(spec, "PaymentRequest")

    assert payment["properties"]["currency"]["enum"] == sorted(SUPPORTED_CURRENCIES)


def test_the_amount_grammar_is_the_one_the_code_enforces(spec):
    amount = _schema(spec, "PaymentRequest")["properties"]["amount"]

    assert {"type": "string", "pattern": AMOUNT_PATTERN} in amount["anyOf"]
    assert {"type": "number", "exclusiveMinimum": 0} in amount["anyOf"]
    assert re.fullmatch(AMOUNT_PATTERN[1:-1], "12.34") and not re.fullmatch(AMOUNT_PATTERN[1:-1], "1e2")


def test_metadata_keys_are_documented_as_names(spec):
    metadata = _schema(spec, "PaymentRequest")["properties"]["metadata"]

    assert metadata["propertyNames"]["pattern"] == METADATA_KEY_PATTERN
    assert PaymentRequest.model_fields["metadata"].metadata


def test_the_error_body_is_the_one_every_answer_uses(spec):
    error = _schema(spec, "ErrorDetail")

    assert set(error["properties"]) == {"code", "message", "field"}
    assert set(error["required"]) == {"code", "message"}


def _resolver_with_a_route() -> PaymentsResolver:
    resolver = PaymentsResolver(enable_validation=True)

    @resolver.post("/payments")
    def post_payment(payment: Annotated[PaymentRequest, Body()]) -> dict[str, str]:
        return {"merchant_id": payment.merchant_id}

    return resolver


@pytest.mark.parametrize("query", [None, {"format": "json"}, {"format": "oauth2-redirect"}])
def test_the_swagger_page_answers_what_powertools_own_page_answers(query):
    """Given the page built on its first request, and Powertools' ``enable_swagger`` given the same
    document and security scheme, both answer the same response, byte for byte."""
    ours, powertools = _resolver_with_a_route(), _resolver_with_a_route()
    ours.enable_swagger_page("/swagger", **api.OPENAPI_DOCUMENT)
    powertools.enable_swagger(
        path="/swagger",
        **api.OPENAPI_DOCUMENT,
        security_schemes=api_key_scheme(),
        security=[{API_KEY_SCHEME: []}],
    )
    event = factories.rest_event("GET", "/swagger", api_key_id=None, query=query)

    assert ours.resolve(event, FakeContext()) == powertools.resolve(event, FakeContext())
