"""The ingest API's boundary: request and response bodies as they appear in the OpenAPI spec.

Card data is checked before anything else parses a body, so a card number is rejected as
``card_data_not_allowed`` even where the schema would also reject it, and only the path of the
offending field is ever reported, never its value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    SerializerFunctionWrapHandler,
    StringConstraints,
    ValidationError,
    model_serializer,
    model_validator,
)

from ingest_svc.logic.accept import Entry
from payments_core.carddata import find_card_data, holds_pan, path_name
from payments_core.errors import BatchTooLarge, CardDataRejected, InvalidPayment, PaymentsError
from payments_core.models import Payment, Status, example_payment

IDEMPOTENCY_KEY_HEADER: Final[str] = "Idempotency-Key"
# Printable ASCII: the key travels in an HTTP header and in SQS message attributes.
IDEMPOTENCY_KEY_PATTERN: Final[str] = r"^[\x20-\x7E]+$"
IDEMPOTENCY_KEY_MAX_LENGTH: Final[int] = 255
MAX_BATCH_ITEMS: Final[int] = 500

_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)

IdempotencyKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=IDEMPOTENCY_KEY_MAX_LENGTH, pattern=IDEMPOTENCY_KEY_PATTERN),
]

_CARD_DATA_MESSAGE = "card numbers and security codes are not accepted; send a card token and last4"
_RESPONSE = ConfigDict(extra="forbid", frozen=True)


def reject_card_data(document: Any) -> None:
    """Raise ``CardDataRejected`` naming the first field that holds card data."""
    path = find_card_data(document)
    if path is not None:
        raise CardDataRejected(_CARD_DATA_MESSAGE, field=path)


def field_path(loc: Sequence[str | int]) -> str | None:
    """``("payments", 3, "amount")`` -> ``"payments[3].amount"``; a key that is not a plain name
    (or is card data) shows as a placeholder, so the path never quotes input."""
    path = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for "the key itself"; the path already names it
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            name = path_name(part)
            path += f".{name}" if path else name
    return path or None


def echoable_key(value: Any) -> str | None:
    """An item's idempotency key as the results may repeat it: a valid key that holds no card number."""
    if not isinstance(value, str) or holds_pan(value):
        return None
    return value if 1 <= len(value) <= IDEMPOTENCY_KEY_MAX_LENGTH and _KEY.fullmatch(value) else None


def invalid_payment(errors: Sequence[Any], *, prefix: Sequence[str | int] = ()) -> InvalidPayment:
    """The first pydantic error as a typed error. Messages come from pydantic's templates, never the input."""
    first = errors[0]
    message = str(first.get("msg", "invalid value"))
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more error(s))"
    return InvalidPayment(message, field=field_path([*prefix, *first.get("loc", ())]))


class PaymentRequest(Payment):
    """``POST /payments``: one payment. ``amount`` is a decimal string or a JSON number."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,
        json_schema_extra={"examples": [example_payment()]},
    )

    @model_validator(mode="before")
    @classmethod
    def _no_card_data(cls, data: Any) -> Any:
        reject_card_data(data)
        return data

    def payment(self) -> Payment:
        """The plain shared model, without anything request-specific."""
        return Payment.model_construct(**{name: getattr(self, name) for name in Payment.model_fields})


class BatchPaymentItem(PaymentRequest):
    """One item of ``POST /payments/batch``: a payment plus its own idempotency key."""

    idempotency_key: IdempotencyKey


def parse_batch_entry(value: Any, index: int) -> Entry:
    """Validate one item on its own, so a bad item is rejected alone and the rest go ahead.

    Its errors name the field from the top of the request (``payments[3].amount``).
    """
    if isinstance(value, Entry):
        return value
    key = echoable_key(value.get("idempotency_key")) if isinstance(value, dict) else None
    prefix = ("payments", index)
    try:
        item = BatchPaymentItem.model_validate(value)
    except ValidationError as exc:
        return Entry(key, error=invalid_payment(exc.errors(include_input=False), prefix=prefix))
    except PaymentsError as exc:
        field = f"payments[{index}]" + (f".{exc.field}" if exc.field else "")
        return Entry(key, error=type(exc)(exc.message, field=field))
    return Entry(item.idempotency_key, payment=item.payment())


def _batch_entry(value: Any) -> Entry:
    if not isinstance(value, Entry):  # the request validator below parses every item first
        raise TypeError("batch items are parsed by BatchRequest")
    return value


def _any_item(schema: dict[str, Any]) -> None:
    schema["items"] = {
        "anyOf": [schema["items"], {}],
        "description": "A BatchPaymentItem; anything else is rejected in this item's result.",
    }


class BatchRequest(BaseModel):
    """``POST /payments/batch``: 1 to 500 payments, each with its own idempotency key."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, hide_input_in_errors=True, arbitrary_types_allowed=True
    )

    payments: Annotated[
        list[Annotated[Entry, PlainValidator(_batch_entry, json_schema_input_type=BatchPaymentItem)]],
        Field(
            min_length=1,
            max_length=MAX_BATCH_ITEMS,
            # Each item is judged alone: one that breaks the item schema is rejected in its own
            # result of the 207, not the whole request, so the request's schema takes any item.
            json_schema_extra=_any_item,
        ),
    ]

    @model_validator(mode="before")
    @classmethod
    def _whole_request_rules(cls, data: Any) -> Any:
        if isinstance(data, dict):
            reject_card_data({key: value for key, value in data.items() if key != "payments"})
            items = data.get("payments")
            if isinstance(items, list) and len(items) > MAX_BATCH_ITEMS:
                raise BatchTooLarge(
                    f"a batch holds at most {MAX_BATCH_ITEMS} payments; split this one", field="payments"
                )
            if isinstance(items, list):
                data = {**data, "payments": [parse_batch_entry(item, i) for i, item in enumerate(items)]}
        return data


class _OmitNone(BaseModel):
    """Leaves absent optional fields out of the JSON rather than sending nulls."""

    model_config = _RESPONSE

    # No return annotation on purpose: pydantic then documents the model's own fields in the spec,
    # where ``-> dict[str, Any]`` would publish every response built on this as a free-form object.
    @model_serializer(mode="wrap")
    def _omit_none(self, handler: SerializerFunctionWrapHandler):
        return {key: value for key, value in handler(self).items() if value is not None}


class ErrorDetail(_OmitNone):
    code: str = Field(description="Stable machine-readable code, e.g. idempotency_key_reused.")
    message: str
    field: str | None = Field(
        default=None, description="Path of the offending input, e.g. payment_method.last4."
    )


class ErrorResponse(BaseModel):
    model_config = _RESPONSE

    error: ErrorDetail


class AcceptedResponse(BaseModel):
    """202: the payment is queued. A replay of the same key and body returns it with ``replayed: true``."""

    model_config = _RESPONSE

    transaction_id: str
    status: Literal["ACCEPTED"] = "ACCEPTED"
    replayed: bool = False


class BatchItemResult(_OmitNone):
    index: int
    idempotency_key: str | None = None
    status: Literal["accepted", "replayed", "rejected"]
    transaction_id: str | None = None
    error: ErrorDetail | None = None


class BatchResponse(BaseModel):
    """207: one result per item, in request order. ``accepted`` includes the ``replayed`` items."""

    model_config = _RESPONSE

    results: list[BatchItemResult]
    accepted: int
    replayed: int
    rejected: int


class CardSummary(BaseModel):
    model_config = _RESPONSE

    type: str
    brand: str | None = None
    last4: str | None = None
    country: str | None = None


class PaymentResponse(BaseModel):
    """A transaction as recorded. Numbers inside the step maps are strings, exactly as stored."""

    model_config = _RESPONSE

    transaction_id: str
    status: Status
    amount: str = Field(description="Decimal string with the currency's minor units, e.g. 12.34 or 1200.")
    currency: str
    merchant_id: str
    reference: str | None = None
    customer_id: str | None = None
    payment_method: CardSummary | None = None
    decline_reasons: list[str] = Field(default_factory=list)
    validation: dict[str, Any] | None = None
    fraud: dict[str, Any] | None = Field(
        default=None, description="outcome, score (decimal string), reasons."
    )
    settlement: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None
    created_at: str
    updated_at: str


class AuditEventView(_OmitNone):
    at: str
    action: str
    actor: str
    detail: dict[str, Any] = Field(default_factory=dict)
    outcome: str | None = None
    transaction_id: str | None = None


class AuditTrailResponse(BaseModel):
    model_config = _RESPONSE

    transaction_id: str
    events: list[AuditEventView]


class AuditRangeResponse(BaseModel):
    model_config = _RESPONSE

    events: list[AuditEventView]
    next_token: str | None = Field(default=None, description="Pass back as next_token for the next page.")


class AuditCountersResponse(BaseModel):
    model_config = _RESPONSE

    day: str
    counters: dict[str, int]
