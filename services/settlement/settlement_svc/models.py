"""The settlement step's boundary: one Payload per action, and the response shapes.

``settle`` reads the payment strictly (the shared ``Payment`` model): money is only moved for a
payment whose amount is exact in its currency. ``decline`` and ``fail`` read it not at all,
because they must work for exactly the payments that could not be read or did not pass.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from payments_core.models import LENIENT, Payment

TransactionId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class CheckOutcome(BaseModel):
    """One parallel branch's result, or the ``{"outcome": "ERROR", ...}`` its Catch produced."""

    model_config = LENIENT

    outcome: str
    reasons: list[str] = Field(default_factory=list)
    score: str | None = None
    checked_at: str | None = None
    error: str | None = None
    cause: str | None = None


class Checks(BaseModel):
    model_config = LENIENT

    validation: CheckOutcome | None = None
    fraud: CheckOutcome | None = None


class SettleRequest(BaseModel):
    model_config = LENIENT

    action: Literal["settle"]
    transaction_id: TransactionId
    payment: Payment
    checks: Checks = Field(default_factory=Checks)


class DeclineRequest(BaseModel):
    model_config = LENIENT

    action: Literal["decline"]
    transaction_id: TransactionId
    checks: Checks = Field(default_factory=Checks)


class FailRequest(BaseModel):
    model_config = LENIENT

    action: Literal["fail"]
    transaction_id: TransactionId
    # Only read to redact its identifying values from the recorded cause.
    payment: dict[str, Any] | None = None
    # A Catch's ``{"Error", "Cause"}``, or absent when the failure is in ``checks``.
    error: Any = None
    checks: Checks | None = None
    # The execution name (transaction id + receive count) makes one audit row per attempt.
    execution_name: str | None = Field(
        default=None, validation_alias=AliasChoices("execution_name", "execution")
    )


SettlementRequest = Annotated[SettleRequest | DeclineRequest | FailRequest, Field(discriminator="action")]
REQUEST_ADAPTER: TypeAdapter[SettleRequest | DeclineRequest | FailRequest] = TypeAdapter(
    SettlementRequest, config=ConfigDict(hide_input_in_errors=True)
)
