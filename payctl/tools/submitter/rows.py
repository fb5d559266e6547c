"""Each row checked locally with the API's own payment model, and given its idempotency key.

A row the API would refuse on its face (a missing field, a bad amount, card data) never travels:
it is rejected here with the same kind of error body the API gives.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from payments_core.carddata import find_card_data
from payments_core.errors import PaymentsError
from payments_core.models import Payment

KEY_COLUMN = "idempotency_key"
_KEY = re.compile(r"^[\x20-\x7E]{1,255}$")
DERIVED_KEY_PREFIX = "row-sha256-"


@dataclass(frozen=True)
class Checked:
    """A row ready to send (``item``) or its local error (``error``, the API's error shape)."""

    number: int
    key: str | None
    item: dict[str, Any] | None
    error: dict[str, Any] | None = None


def derived_key(payment: dict[str, Any]) -> str:
    """A key from the row's content alone, so re-running the same file replays instead of paying twice.

    Identical rows without a key therefore are one payment; give them a key column to send both.
    """
    canonical = json.dumps(payment, sort_keys=True, separators=(",", ":"), default=str)
    return DERIVED_KEY_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def _error(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error = {"code": code, "message": message}
    if field:
        error["field"] = field
    return error


def _pydantic_field(loc: tuple[Any, ...]) -> str | None:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or None


def check_row(
    number: int, payment: dict[str, Any] | None, read_error: str | None, key_column: str
) -> Checked:
    if payment is None:
        return Checked(number, None, None, _error("unreadable_row", read_error or "the row cannot be read"))
    payment = dict(payment)
    key = payment.pop(key_column, None)
    # The key is checked too: the API refuses a key that looks like a card number.
    card_field = find_card_data({key_column: key, **payment} if isinstance(key, str) else payment)
    if card_field is not None:
        # Never echo the value, as the API does not.
        return Checked(
            number,
            None,
            None,
            _error("card_data_not_allowed", "card numbers and security codes are not accepted", card_field),
        )
    if key is None:
        key = derived_key(payment)
    elif not isinstance(key, str) or not _KEY.match(key):
        return Checked(
            number, None, None, _error("invalid_payment", "1-255 printable ASCII characters", key_column)
        )
    try:
        Payment.model_validate(payment)
    except ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        more = f" (and {exc.error_count() - 1} more error(s))" if exc.error_count() > 1 else ""
        return Checked(
            number, key, None, _error("invalid_payment", first["msg"] + more, _pydantic_field(first["loc"]))
        )
    except PaymentsError as exc:
        return Checked(number, key, None, exc.to_body()["error"])
    return Checked(number, key, {"idempotency_key": key, **payment})
