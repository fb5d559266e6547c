"""The inputs the hostile-input review tried, over real HTTP through the local front: each gets a
clear 4xx in the error shape, and nothing of it is queued, stored or echoed."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

PAN = "4111111111111111"


def _body(payment: dict[str, Any], amount_json: str | None = None, **changes: Any) -> bytes:
    document = {**payment, **changes}
    if amount_json is None:
        return json.dumps(document).encode()
    return json.dumps({**document, "amount": "@"}).replace('"@"', amount_json).encode()


CASES: list[tuple[str, Any, int, str]] = [
    # (what, how to build the body from a valid payment, status, code)
    ("PAN as a JSON number amount", lambda p: _body(p, f"{PAN}.00"), 422, "card_data_not_allowed"),
    ("PAN with an exponent", lambda p: _body(p, f"{PAN}e0"), 422, "card_data_not_allowed"),
    ("PAN with underscores", lambda p: _body(p, amount="4111_1111_1111_1111"), 422, "card_data_not_allowed"),
    (
        "PAN with NBSP",
        lambda p: _body(p, amount="4111\u00a01111\u00a01111\u00a01111"),
        422,
        "card_data_not_allowed",
    ),
    (
        "PAN with dots in metadata",
        lambda p: _body(p, metadata={"n": "4111.1111.1111.1111"}),
        422,
        "card_data_not_allowed",
    ),
    ("empty metadata key", lambda p: _body(p, metadata={"": "x"}), 422, "invalid_payment"),
    (
        "metadata 1,000 levels deep",
        lambda p: _body(p)[:-1] + b', "metadata": ' + b'{"a":' * 1000 + b"1" + b"}" * 1001,
        400,
        "body_too_deep",
    ),
    (
        "invalid UTF-8",
        lambda p: _body(p, reference="caf@").replace(b"caf@", b"caf\xe9"),
        400,
        "invalid_encoding",
    ),
    ("amount with spaces", lambda p: _body(p, amount=" 12.34 "), 422, "invalid_amount"),
    ("amount with a sign", lambda p: _body(p, amount="+12.34"), 422, "invalid_amount"),
    ("amount with an exponent", lambda p: _body(p, amount="1e2"), 422, "invalid_amount"),
    ("amount with an underscore", lambda p: _body(p, amount="1_000"), 422, "invalid_amount"),
    ("amount in Arabic-Indic digits", lambda p: _body(p, amount="\u0661\u0662"), 422, "invalid_amount"),
    ("JSON number with an exponent", lambda p: _body(p, "1e2"), 422, "invalid_amount"),
    ("duplicate key", lambda p: _body(p)[:-1] + b', "currency": "JPY"}', 400, "duplicate_key"),
]


@pytest.mark.parametrize(("what", "build", "status", "code"), CASES, ids=[case[0] for case in CASES])
def test_hostile_single_payment_is_a_clear_4xx(api, payment, idempotency_key, what, build, status, code):
    key = idempotency_key()

    response = api.post(
        "/payments", build(payment()), {"Idempotency-Key": key, "Content-Type": "application/json"}
    )

    assert response.status == status, response.body
    error = response.json()["error"]
    assert error["code"] == code
    assert b"1111" not in response.body


def test_a_body_without_content_type_is_415(api, payment, idempotency_key):
    response = api.post("/payments", json.dumps(payment()).encode(), {"Idempotency-Key": idempotency_key()})

    assert response.status == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_a_batch_names_the_item_and_never_echoes_a_card_number_key(api, payment):
    items = [
        {"idempotency_key": "4111 1111 1111 1111", **payment()},
        {"idempotency_key": "e2e-bad-amount", **payment(amount="1.001")},
    ]

    response = api.post("/payments/batch", {"payments": items})

    assert response.status == 207
    first, second = response.json()["results"]
    assert "idempotency_key" not in first and first["error"]["code"] == "card_data_not_allowed"
    assert second["error"]["field"] == "payments[1].amount"
    assert b"1111" not in response.body


@pytest.mark.parametrize("method", ["TRACE", "PUT", "DELETE"])
def test_the_fronts_own_refusals_are_json(api, method):
    response = api.request(method, "/payments")

    assert response.status == 405 and response.headers["allow"] == "POST"
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()["error"]) == {"code", "message"}
