"""The fee schedule: a rate on the gross amount plus a fixed fee in each currency.

Its own module because the archive function writes the schedule into each archived settlement, and
its cold start should not load the settlement steps' pydantic models to read two constants.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final

FEE_RATE: Final = Decimal("0.029")
FIXED_FEE: Final[Mapping[str, Decimal]] = {
    "USD": Decimal("0.30"),
    "EUR": Decimal("0.25"),
    "GBP": Decimal("0.20"),
    "CHF": Decimal("0.30"),
    "CAD": Decimal("0.30"),
    "AUD": Decimal("0.30"),
    "SEK": Decimal("2.50"),
    "JPY": Decimal("30"),
    "KRW": Decimal("300"),
    "KWD": Decimal("0.100"),
    "BHD": Decimal("0.100"),
}
