"""Deterministic ids and card-data detection."""

import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments_core.carddata import find_card_data, looks_like_pan, luhn_valid
from payments_core.ids import payload_hash, shard_of, transaction_id
from payments_core.money import JsonNumber


@given(submitter=st.text(min_size=1, max_size=40), key=st.text(min_size=1, max_size=255))
def test_transaction_id_is_deterministic_per_submitter_and_key(submitter, key):
    """Every duplicate of a payment (retry, redelivery, replay) gets the same id."""
    first = transaction_id(submitter, key)
    assert first == transaction_id(submitter, key)
    assert uuid.UUID(first).version == 5


def test_same_key_from_two_submitters_gives_two_ids():
    assert transaction_id("key-a", "order-1") != transaction_id("key-b", "order-1")


def test_payload_hash_ignores_key_order_and_refuses_floats():
    assert payload_hash({"a": Decimal("1.00"), "b": "x"}) == payload_hash({"b": "x", "a": Decimal("1.00")})
    with pytest.raises(TypeError):
        payload_hash({"amount": 1.0})


@given(st.uuids())
def test_shard_is_within_range(value):
    assert 0 <= shard_of(str(value), 16) < 16


@pytest.mark.parametrize(
    "pan",
    ["4242424242424242", "4242 4242 4242 4242", "5555-5555-5555-4444", "378282246310005", "6011111111111117"],
)
def test_test_card_numbers_are_detected(pan):
    assert looks_like_pan(pan)
    assert find_card_data({"payment_method": {"note": f"card {pan}"}}) == "payment_method.note"


@pytest.mark.parametrize(
    "text", ["order-1001", "tok_visa_4242", "4242", "12345678901234567890123", "2026-11-28T10:00:00Z"]
)
def test_ordinary_values_are_not_card_numbers(text):
    assert not looks_like_pan(text)


@pytest.mark.parametrize("key", ["cvv", "CVC", "card_number", "pan", "security-code"])
def test_sensitive_field_names_are_reported_by_path(key):
    assert find_card_data({"payment_method": {key: "123"}}) == f"payment_method.{key}"


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"metadata": {"4242 4242 4242 4242": "x"}}, "metadata.<card number>"),
        ({"4111111111111111": {"cvv": "123"}}, "<card number>"),
        ({"metadata": {"order": {"5555555555554444": 1}}}, "metadata.order.<card number>"),
    ],
)
def test_a_card_number_used_as_a_key_is_found_and_never_echoed(document, path):
    found = find_card_data(document)
    assert found == path
    assert not looks_like_pan(found)


def test_card_number_as_json_number_is_detected_in_lists():
    assert find_card_data({"metadata": [1, 4111111111111111]}) == "metadata[1]"


def test_luhn():
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")


SEPARATORS = [" ", "-", "\u00a0", "_", ".", "\u2009", " - "]


def _with_check_digit(body: str) -> str:
    for digit in "0123456789":
        if luhn_valid(body + digit):
            return body + digit
    raise AssertionError("unreachable")


@given(
    body=st.text(alphabet="0123456789", min_size=12, max_size=18).filter(lambda s: s[0] != "0"),
    separator=st.sampled_from(SEPARATORS),
    group=st.sampled_from([4, 5, 6]),
)
def test_a_pan_printed_in_groups_with_any_separator_is_caught(body, separator, group):
    pan = _with_check_digit(body)
    printed = separator.join(pan[i : i + group] for i in range(0, len(pan), group))

    assert looks_like_pan(printed)
    assert find_card_data({"reference": f"see {printed} thanks"}) == "reference"


@given(value=st.uuids())
def test_a_uuid_is_never_taken_for_a_card_number(value):
    assert not looks_like_pan(str(value))


@pytest.mark.parametrize(
    "value",
    [
        Decimal("4111111111111111"),
        Decimal("4111111111111111.00"),
        Decimal("4.111111111111111E+15"),
        JsonNumber("4111111111111111e0"),
        JsonNumber("4111111111111111.00"),
        4111111111111111,
        "\u0664" + "\u0661" * 15,  # Arabic-Indic digits
        "\uff14" + "\uff11" * 15,  # full-width digits
    ],
)
def test_a_card_number_of_any_type_is_caught_as_a_value_and_as_a_key(value):
    assert find_card_data({"amount": value}) == "amount"
    assert find_card_data({"metadata": {value: "x"}}) == "metadata.<card number>"


@pytest.mark.parametrize("key", ["Card Number", "card.number", "CVV2", "security_code", "cc-number"])
def test_field_names_are_compared_without_case_or_separators(key):
    assert find_card_data({"payment_method": {key: "x"}}) is not None


def test_a_path_never_quotes_a_key_that_is_not_a_plain_name():
    assert find_card_data({"a b <c>": {"cvv": "1"}}) == "<key>.cvv"


@given(data=st.binary())
def test_a_sha256_digest_is_never_taken_for_a_card_number(data):
    import hashlib

    assert not looks_like_pan(hashlib.sha256(data).hexdigest())


@pytest.mark.parametrize("text", ["card4111111111111111", "x4111111111111111y", "PAN:4111111111111111;"])
def test_a_plain_card_number_glued_to_words_is_still_caught(text):
    assert looks_like_pan(text)
