"""The API under hostile input: every malformed request is a 4xx that names the field, and no card
number is accepted, stored or echoed, whatever its type or spelling."""

from __future__ import annotations

import json

import pytest

from ingest_svc.handlers import api
from tests import factories

PANS = [
    "4111111111111111",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "4111\u00a01111\u00a01111\u00a01111",
    "4111_1111_1111_1111",
    "4111.1111.1111.1111",
]


def error(response) -> dict:
    assert set(response.body) == {"error"}, response.body
    return response.body["error"]


def raw_payment(payment: dict, amount_json: str) -> str:
    """The payment's JSON with the amount written exactly as ``amount_json``."""
    return json.dumps({**payment, "amount": "__AMOUNT__"}).replace('"__AMOUNT__"', amount_json)


@pytest.mark.parametrize("amount_json", ["4111111111111111.00", "4111111111111111e0", "4111111111111111"])
def test_a_card_number_sent_as_a_json_number_amount_is_refused(client, ports, payment, amount_json):
    response = client.call(
        "POST", "/payments", raw_body=raw_payment(payment, amount_json), headers={"Idempotency-Key": "k-1"}
    )

    assert response.status == 422
    assert error(response) | {"message": ""} == {
        "code": "card_data_not_allowed",
        "message": "",
        "field": "amount",
    }
    assert "4111" not in response.raw["body"]
    assert ports.queue.messages == []


@pytest.mark.parametrize("pan", PANS)
def test_a_card_number_with_separators_is_refused_in_any_field(client, ports, payment, pan):
    for body in (
        {**payment, "amount": pan},
        {**payment, "reference": f"order {pan}"},
        {**payment, "metadata": {"note": pan}},
        {**payment, "metadata": {pan.replace(" ", "_"): "x"}},
    ):
        response = client.post_payment("k-2", body)

        assert response.status == 422, body
        assert error(response)["code"] == "card_data_not_allowed"
        assert "1111" not in response.raw["body"]
    assert ports.queue.messages == []


@pytest.mark.parametrize("pan", PANS)
def test_a_batch_never_echoes_a_card_number_used_as_an_idempotency_key(client, ports, payment, pan):
    items = [
        {"idempotency_key": pan, **payment},
        {
            "amount": "4111111111111111",
            **{k: v for k, v in payment.items() if k != "amount"},
            "idempotency_key": pan,
        },
        {"idempotency_key": pan, **payment, "amount": "1.001"},
        {"idempotency_key": pan, **payment, "reference": 7},
    ]

    response = client.post_batch(items)

    assert response.status == 207
    assert [r["status"] for r in response.body["results"]] == ["rejected"] * 4
    assert all("idempotency_key" not in r for r in response.body["results"])
    assert "1111" not in response.raw["body"]


@pytest.mark.parametrize(
    "amount",
    [
        " 12.34 ",
        "+12.34",
        "1e2",
        "1E2",
        "1_000",
        "\u0661\u0662",
        "12.",
        ".5",
        "12.3.4",
        "-1",
        "0x10",
        "12\u00a034",
    ],
)
def test_an_amount_outside_the_grammar_is_refused_without_echo(client, ports, payment, amount):
    response = client.post_payment("k-3", {**payment, "amount": amount})

    assert response.status == 422
    assert error(response)["code"] == "invalid_amount"
    assert error(response)["field"] == "amount"
    baseline = client.post_payment("k-3b", {**payment, "amount": "abc"})
    assert error(response)["message"] == error(baseline)["message"]
    assert ports.queue.messages == []


@pytest.mark.parametrize("amount_json", ["1e2", "12.34e0", "-12.34", "1E+2"])
def test_a_json_number_amount_is_judged_by_its_text(client, ports, payment, amount_json):
    response = client.call(
        "POST", "/payments", raw_body=raw_payment(payment, amount_json), headers={"Idempotency-Key": "k-4"}
    )

    assert response.status == 422
    assert error(response)["code"] == "invalid_amount"


def test_a_json_number_amount_in_the_grammar_is_accepted(client, ports, payment):
    response = client.call(
        "POST", "/payments", raw_body=raw_payment(payment, "12.30"), headers={"Idempotency-Key": "k-5"}
    )

    assert response.status == 202
    assert ports.queue.messages[0].payment.to_document()["amount"] == "12.30"


@pytest.mark.parametrize("key", ["", "a" * 41, "has space", "semi;colon", "caf\u00e9", "\u0000"])
def test_metadata_keys_are_short_names_from_a_safe_set(client, ports, payment, key):
    response = client.post_payment("k-6", {**payment, "metadata": {key: "x"}})

    assert response.status == 422
    assert error(response)["code"] == "invalid_payment"
    assert error(response)["field"].startswith("metadata")
    assert ports.queue.messages == []


@pytest.mark.parametrize("route", ["/payments", "/payments/batch"])
def test_a_body_nested_a_thousand_levels_deep_is_400(client, ports, route):
    nested = '{"a":' * 1000 + "1" + "}" * 1000

    response = client.call("POST", route, raw_body=nested, headers={"Idempotency-Key": "k-7"})

    assert response.status == 400
    assert error(response)["code"] == "body_too_deep"


def test_a_body_33_levels_deep_is_refused_and_a_payment_is_far_from_it(client, ports, payment):
    deep: dict = {"x": "y"}
    for _ in range(31):
        deep = {"x": deep}

    response = client.post_payment("k-8", {**payment, "metadata": deep})

    assert response.status == 400
    assert error(response)["code"] == "body_too_deep"


def test_a_repeated_key_is_400_naming_it(client, ports, payment):
    raw = json.dumps(payment).replace('"currency": "USD"', '"currency": "USD", "currency": "JPY"')

    response = client.call("POST", "/payments", raw_body=raw, headers={"Idempotency-Key": "k-9"})

    assert response.status == 400
    assert error(response) | {"message": ""} == {"code": "duplicate_key", "message": "", "field": "currency"}


def test_a_repeated_key_inside_a_batch_item_names_its_path(client, ports, payment):
    item = json.dumps({"idempotency_key": "b-1", **payment}).replace(
        '"merchant_id": "m_123"', '"merchant_id": "m_123", "merchant_id": "m_999"'
    )

    response = client.call("POST", "/payments/batch", raw_body=f'{{"payments": [{item}, {item}]}}')

    assert response.status == 400
    assert error(response)["field"] == "payments[0].merchant_id"


def test_text_that_was_not_utf8_is_400(client, ports, payment):
    """API Gateway (and the local front) hand bytes that are not UTF-8 over as U+FFFD."""
    response = client.post_payment("k-10", {**payment, "reference": "caf\ufffd"})

    assert response.status == 400
    assert error(response)["code"] == "invalid_encoding"


def test_a_lone_surrogate_escape_is_400(client, ports, payment):
    raw = json.dumps({**payment, "reference": "__REF__"}).replace("__REF__", "\\ud800")

    response = client.call("POST", "/payments", raw_body=raw, headers={"Idempotency-Key": "k-11"})

    assert response.status == 400
    assert error(response) | {"message": ""} == {
        "code": "invalid_encoding",
        "message": "",
        "field": "reference",
    }


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_a_body_not_declared_as_utf8_json_is_415(client, ports, payment, content_type, make_context):
    event_headers = {"Idempotency-Key": "k-12", "Content-Type": content_type}
    event = factories.rest_event("POST", "/payments", api_key_id="key-alpha", body=payment, headers={})
    event["headers"] = {k: v for k, v in {**event["headers"], **event_headers}.items() if v is not None}
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}

    raw = api.lambda_handler(event, make_context())

    assert raw["statusCode"] == 415
    assert json.loads(raw["body"])["error"]["code"] == "unsupported_media_type"
    assert ports.queue.messages == []


@pytest.mark.parametrize("route", ["/payments", "/payments/batch"])
def test_a_body_over_the_routes_limit_is_413(client, ports, payment, route):
    limit = 64 * 1024 if route == "/payments" else 5 * 1024 * 1024
    body = {**payment, "reference": "r" * limit} if route == "/payments" else {"payments": ["x" * limit]}

    response = client.call("POST", route, body=body, headers={"Idempotency-Key": "k-13"})

    assert response.status == 413
    assert error(response)["code"] == "payload_too_large"


def test_nan_is_not_json(client, ports, payment):
    raw = raw_payment(payment, "NaN")

    response = client.call("POST", "/payments", raw_body=raw, headers={"Idempotency-Key": "k-14"})

    assert response.status == 400


def test_a_list_body_is_refused_rather_than_its_first_element_read(client, ports, payment):
    response = client.call("POST", "/payments", body=[payment], headers={"Idempotency-Key": "k-15"})

    assert response.status == 422
    assert ports.queue.messages == []


def test_an_unknown_field_named_like_input_is_not_quoted_in_the_path(client, ports, payment):
    response = client.post_payment("k-16", {**payment, "<script>": "x"})

    assert response.status == 422
    assert "<script>" not in response.raw["body"]


@pytest.mark.parametrize(
    "query",
    [
        {"to": "0404-12-18T02:31:21+13:55"},
        {"to": "0001-01-01T00:00:00+13:55"},
        {"from": "9999-12-31T23:59:59-10:00"},
        {"to": ""},
        {"from": "not a time"},
    ],
)
def test_an_odd_audit_time_is_400_naming_it(client, ports, query):
    from tests.unit.ingest.conftest import DASHBOARD_API_KEY_ID

    response = client.call("GET", "/audit", query=query, api_key_id=DASHBOARD_API_KEY_ID)

    assert response.status == 400
    assert error(response)["field"] == next(iter(query))
