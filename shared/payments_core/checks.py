"""What validation and fraud share at their boundary: the lenient payment, the task Payload and
the stored result, read by ``payments_core.payloads``. Apart from the readers because settlement,
which reads neither, should not define them on its cold start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, ClassVar, Generic, Self, TypeVar

from payments_core.payloads import (
    TRANSACTION_ID_MAX_LENGTH,
    ValidationError,
    field_path,
    optional_text,
    record,
    required_text,
    text,
)


@dataclass(frozen=True, kw_only=True)
class LenientCustomer:
    id: str | None = None
    country: str | None = None

    @classmethod
    def read(cls, value: Any, where: str) -> LenientCustomer | None:
        if value is None:
            return None
        data = record(value, where)
        return cls(id=optional_text(data, "id", where), country=optional_text(data, "country", where))


@dataclass(frozen=True, kw_only=True)
class LenientPayment:
    """The fields every check reads. Only an amount that is already a binary float is refused,
    because its exact value is lost."""

    amount: str
    currency: str = ""
    customer: LenientCustomer | None = None

    @staticmethod
    def common(data: Mapping[str, Any], where: str) -> dict[str, Any]:
        """The shared fields' values, for a subclass's reader."""
        if "amount" not in data:
            raise ValidationError(field_path(where, "amount"), "is required")
        amount = data["amount"]
        if isinstance(amount, bool) or not isinstance(amount, str | int | Decimal):
            raise ValidationError(
                field_path(where, "amount"),
                "amount must be a decimal string or an integer, never a binary float",
            )
        return {
            "amount": str(amount),
            "currency": text(data, "currency", where),
            "customer": LenientCustomer.read(data.get("customer"), field_path(where, "customer")),
        }

    @classmethod
    def model_validate(cls, value: Any) -> Self:
        """The payment read from a payload's ``payment`` (the name the pydantic models use too)."""
        return cls(**cls.common(record(value, "payment"), "payment"))


P = TypeVar("P", bound=LenientPayment)


@dataclass(frozen=True, kw_only=True)
class CheckRequest(Generic[P]):
    """A check's task Payload (the workflow input): the transaction and its payment, read leniently."""

    PAYMENT: ClassVar[type[LenientPayment]] = LenientPayment

    transaction_id: str
    payment: P
    received_at: str | None = None

    @classmethod
    def model_validate(cls, value: Any) -> Self:
        data = record(value, "payload")
        if "payment" not in data:
            raise ValidationError("payment", "is required")
        return cls(
            transaction_id=required_text(data, "transaction_id", max_length=TRANSACTION_ID_MAX_LENGTH),
            payment=cls.PAYMENT.model_validate(data["payment"]),  # type: ignore[arg-type]  # PAYMENT reads a P
            received_at=optional_text(data, "received_at"),
        )


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    """What a check returns to the state machine (settlement stores it with the final status)."""

    OUTCOMES: ClassVar[tuple[str, ...]]

    outcome: str
    reasons: list[str]
    checked_at: str

    def __post_init__(self) -> None:
        if self.outcome not in self.OUTCOMES:
            raise ValidationError("outcome", f"must be one of {', '.join(self.OUTCOMES)}")

    def model_dump(self) -> dict[str, Any]:
        return asdict(self)
