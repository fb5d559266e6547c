"""Pydantic models at the edge of every service: the payment, the queue message, statuses, and the
lenient view of the payment that the workflow checks read."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_serializer,
    field_validator,
    model_validator,
)

from payments_core.money import format_amount, parse_amount


class Status(StrEnum):
    RECEIVED = "RECEIVED"
    SETTLED = "SETTLED"
    DECLINED = "DECLINED"
    FAILED = "FAILED"


FINAL_STATUSES = frozenset({Status.SETTLED, Status.DECLINED})

Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=128)]


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
    amount: Decimal
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    payment_method: PaymentMethod
    customer: Customer | None = None
    reference: Annotated[str, StringConstraints(max_length=128)] | None = None
    metadata: dict[
        Annotated[str, StringConstraints(max_length=40)], Annotated[str, StringConstraints(max_length=500)]
    ] = Field(default_factory=dict, max_length=20)

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


class PaymentMessage(BaseModel):
    """The SQS message body the API writes and the consumer reads; also the workflow's input."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    transaction_id: str
    submitter: str
    idempotency_key: str
    payload_hash: str
    received_at: str
    payment: Payment


# The workflow steps read their payload leniently on purpose: a payment that breaks a business rule
# must be failed or scored with a reason, not crash its branch with a parsing error.
LENIENT = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class CustomerView(BaseModel):
    model_config = LENIENT

    id: str | None = None
    country: str | None = None


class LenientPaymentView(BaseModel):
    """The fields every check reads. Only an amount that is already a binary float is refused,
    because its exact value is lost."""

    model_config = LENIENT

    amount: str
    currency: str = ""
    customer: CustomerView | None = None

    @field_validator("amount", mode="before")
    @classmethod
    def _exact_amount(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise ValueError("amount must be a decimal string or an integer, never a binary float")
        return str(value)
