"""Pydantic models at the edge of the API, the consumer and settlement: the payment and the queue
message. (Validation and fraud read their payloads by hand: ``payments_core.payloads``.)"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_serializer,
    model_validator,
)

from payments_core.money import AMOUNT_PATTERN, SUPPORTED_CURRENCIES, format_amount, parse_amount

# Re-exported: code that reads the models takes the statuses from here too.
from payments_core.status import FINAL_STATUSES as FINAL_STATUSES
from payments_core.status import Status as Status

Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=128)]
# A metadata key is a name, not data: it shows in error paths and in DynamoDB map keys, which
# older code let be empty.
METADATA_KEY_PATTERN: Final[str] = r"^[A-Za-z0-9_.:\-]{1,40}$"
MAX_METADATA_ENTRIES: Final[int] = 20
MAX_METADATA_VALUE_LENGTH: Final[int] = 500


def _supported(currency: str) -> str:
    if currency not in SUPPORTED_CURRENCIES:
        raise ValueError("the currency is not supported")
    return currency


Currency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    AfterValidator(_supported),
    WithJsonSchema({"type": "string", "enum": sorted(SUPPORTED_CURRENCIES)}),
]
# The spec states the amount grammar; ``parse_amount`` enforces it (and the currency's minor units).
Amount = Annotated[
    Decimal,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": AMOUNT_PATTERN},
                {"type": "number", "exclusiveMinimum": 0},
            ],
            "description": (
                "Greater than 0, with no more decimal places than the currency's minor units. A string or "
                "a JSON number, written as 1-18 ASCII digits, optionally a '.' and up to 18 more: no "
                "sign, whitespace, underscore or exponent."
            ),
        }
    ),
]


class PaymentMethod(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["card"] = "card"
    token: Annotated[str, StringConstraints(min_length=4, max_length=128, pattern=r"^[A-Za-z0-9_\-]+$")]
    last4: Annotated[str, StringConstraints(pattern=r"^\d{4}$")]
    brand: Literal["visa", "mastercard", "amex", "discover", "jcb", "unionpay"]
    country: Country | None = None


class Customer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ShortText
    country: Country | None = None


class Payment(BaseModel):
    """One payment as a submitter sends it. ``amount`` is exact: str or JSON number, never float."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    merchant_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    amount: Amount
    currency: Currency
    payment_method: PaymentMethod
    customer: Customer | None = None
    reference: Annotated[str, StringConstraints(max_length=128)] | None = None
    metadata: Annotated[
        dict[
            Annotated[str, StringConstraints(pattern=METADATA_KEY_PATTERN)],
            Annotated[str, StringConstraints(max_length=MAX_METADATA_VALUE_LENGTH)],
        ],
        # pydantic would publish the key rule as patternProperties, which lets any other key through.
        WithJsonSchema(
            {
                "type": "object",
                "maxProperties": MAX_METADATA_ENTRIES,
                "propertyNames": {"pattern": METADATA_KEY_PATTERN},
                "additionalProperties": {"type": "string", "maxLength": MAX_METADATA_VALUE_LENGTH},
            }
        ),
    ] = Field(default_factory=dict, max_length=MAX_METADATA_ENTRIES)

    @model_validator(mode="before")
    @classmethod
    def _exact_amount(cls, data: Any) -> Any:
        if isinstance(data, dict) and "amount" in data and isinstance(data.get("currency"), str):
            data = {**data, "amount": parse_amount(data["amount"], data["currency"])}
        return data

    @field_serializer("amount")
    def _amount_as_string(self, amount: Decimal) -> str:
        return format_amount(amount, self.currency)

    def to_document(self) -> dict[str, Any]:
        """JSON-safe dict: the amount as its canonical string."""
        return self.model_dump(mode="json", exclude_none=True)


# The contract's example payment: the OpenAPI example, the README's, the CLI's sample and the
# tests' default payment are all this one (the README and the sample events are tested against it).
_EXAMPLE_PAYMENT: Final[dict[str, Any]] = {
    "merchant_id": "m_123",
    "amount": "12.34",
    "currency": "USD",
    "payment_method": {
        "type": "card",
        "token": "tok_visa_4242",
        "last4": "4242",
        "brand": "visa",
        "country": "US",
    },
    "customer": {"id": "c_42", "country": "US"},
    "reference": "order-1001",
    "metadata": {"any": "string values"},
}


def example_payment() -> dict[str, Any]:
    """The contract's example payment, as a fresh copy the caller may change."""
    return copy.deepcopy(_EXAMPLE_PAYMENT)


class PaymentMessage(BaseModel):
    """The SQS message body the API writes and the consumer reads; also the workflow's input."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    transaction_id: str
    submitter: str
    idempotency_key: str
    payload_hash: str
    received_at: str
    payment: Payment
