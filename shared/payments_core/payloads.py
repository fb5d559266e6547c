"""The workflow checks' payloads read by hand, without pydantic, and the lenient payment they share.

Validation and fraud read a handful of fields from a payload the consumer already checked, and
pydantic's import plus its model construction cost more than the rest of their cold start
(``make bench-coldstart``). So their boundary is plain frozen dataclasses and the readers below.

They read the way pydantic's lax mode reads JSON: a string field takes a string only, a missing
field takes its default, ``null`` is accepted only where a field is optional, and unknown fields
are ignored. No error message quotes the input: a payload holds payment data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, ClassVar, Final, Generic, Self, TypeVar


class ValidationError(ValueError):
    """A payload the step cannot read. Named as pydantic names its error, because the workflow
    records a failed task by its error's class name and the failure items carry that name."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


def record(value: Any, where: str) -> Mapping[str, Any]:
    """``value`` as an object, or a ValidationError at ``where``."""
    if not isinstance(value, Mapping):
        raise ValidationError(where, "must be an object")
    return value


def _path(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def text(
    data: Mapping[str, Any], name: str, where: str = "", *, default: str = "", required: bool = False
) -> str:
    """A string field that may be missing (then ``default``) unless ``required``, but not null."""
    if required and name not in data:
        raise ValidationError(_path(where, name), "is required")
    value = data.get(name, default)
    if not isinstance(value, str):
        raise ValidationError(_path(where, name), "must be a string")
    return value


def optional_text(data: Mapping[str, Any], name: str, where: str = "") -> str | None:
    """A string field that may be missing or null."""
    value = data.get(name)
    if value is None:
        return None
    return text(data, name, where)


def required_text(data: Mapping[str, Any], name: str, where: str = "", *, max_length: int) -> str:
    """A string field that must be present, of 1 to ``max_length`` characters."""
    value = text(data, name, where, required=True)
    if not 1 <= len(value) <= max_length:
        raise ValidationError(_path(where, name), f"must be 1 to {max_length} characters")
    return value


def texts(data: Mapping[str, Any], name: str, where: str = "", *, required: bool = True) -> list[str]:
    """A list of strings; an empty one when it is missing and not ``required``."""
    if not required and name not in data:
        return []
    value = data.get(name)
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise ValidationError(_path(where, name), "must be a list of strings")
    return list(value)


def one_of(data: Mapping[str, Any], name: str, allowed: tuple[str, ...], where: str = "") -> str:
    """A required string field holding one of ``allowed``."""
    value = data.get(name)
    if value not in allowed:
        raise ValidationError(_path(where, name), f"must be one of {', '.join(allowed)}")
    return str(value)


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
            raise ValidationError(_path(where, "amount"), "is required")
        amount = data["amount"]
        if isinstance(amount, bool) or not isinstance(amount, str | int | Decimal):
            raise ValidationError(
                _path(where, "amount"), "amount must be a decimal string or an integer, never a binary float"
            )
        return {
            "amount": str(amount),
            "currency": text(data, "currency", where),
            "customer": LenientCustomer.read(data.get("customer"), _path(where, "customer")),
        }

    @classmethod
    def model_validate(cls, value: Any) -> Self:
        """The payment read from a payload's ``payment`` (the name the pydantic models use too)."""
        return cls(**cls.common(record(value, "payment"), "payment"))


TRANSACTION_ID_MAX_LENGTH: Final = 64
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
    """What a check returns to the state machine and stores as the transaction's ``STORED_AS`` map."""

    OUTCOMES: ClassVar[tuple[str, ...]]
    STORED_AS: ClassVar[str]

    outcome: str
    reasons: list[str]
    checked_at: str

    def __post_init__(self) -> None:
        if self.outcome not in self.OUTCOMES:
            raise ValidationError("outcome", f"must be one of {', '.join(self.OUTCOMES)}")

    @classmethod
    def stored_fields(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """The fields of a result stored by an earlier run, for the constructor."""
        return {
            "outcome": one_of(data, "outcome", cls.OUTCOMES, cls.STORED_AS),
            "reasons": texts(data, "reasons", cls.STORED_AS),
            "checked_at": text(data, "checked_at", cls.STORED_AS, required=True),
        }

    @classmethod
    def model_validate(cls, value: Any) -> Self:
        return cls(**cls.stored_fields(record(value, cls.STORED_AS)))

    def model_dump(self) -> dict[str, Any]:
        return asdict(self)
