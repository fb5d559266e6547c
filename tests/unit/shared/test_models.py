"""The Payment model at the edge."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from payments_core.errors import InvalidAmount, UnsupportedCurrency
from payments_core.models import Payment
from tests.factories import payment

BASE = payment()


def test_valid_payment_keeps_amount_as_decimal_and_serialises_it_as_string():
    payment = Payment.model_validate(BASE)
    assert payment.amount == Decimal("12.34")
    assert payment.to_document()["amount"] == "12.34"


def test_kwd_amount_keeps_three_places():
    payment = Payment.model_validate({**BASE, "amount": Decimal("1.5"), "currency": "KWD"})
    assert payment.to_document()["amount"] == "1.500"


def test_unknown_fields_are_rejected():
    with pytest.raises(ValidationError) as raised:
        Payment.model_validate({**BASE, "surprise": 1})
    assert raised.value.errors()[0]["loc"] == ("surprise",)


def test_bad_last4_names_the_field():
    with pytest.raises(ValidationError) as raised:
        Payment.model_validate({**BASE, "payment_method": {**BASE["payment_method"], "last4": "42"}})
    assert raised.value.errors()[0]["loc"] == ("payment_method", "last4")


def test_amount_errors_are_typed():
    with pytest.raises(InvalidAmount):
        Payment.model_validate({**BASE, "amount": "1.001"})
    with pytest.raises(UnsupportedCurrency):
        Payment.model_validate({**BASE, "currency": "XAU"})
