"""Configuration, read once from the function's environment (set by template.yaml).

A frozen dataclass rather than a pydantic model: every function reads its settings, and most of
them have no other use for pydantic, whose import is a large share of a cold start.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, Final

# The audit GSI's shards per day when AUDIT_SHARDS is unset (the template sets it for every function).
DEFAULT_AUDIT_SHARDS: Final[int] = 16
AUDIT_SHARDS_RANGE: Final = range(10, 257)


@dataclass(frozen=True)
class Settings:
    environment: str = "dev"
    transactions_table: str = ""
    settlements_table: str = ""
    audit_table: str = ""
    idempotency_table: str = ""
    archive_bucket: str = ""
    payments_queue_url: str = ""
    state_machine_arn: str = ""
    audit_shards: int = DEFAULT_AUDIT_SHARDS
    # Comma-separated API key ids that may read every payment's audit rows; none when unset.
    dashboard_api_key_ids: str = ""
    # The one origin browsers may read the API's answers from (a dashboard hosted apart); none when unset.
    allowed_origin: str = ""

    def __post_init__(self) -> None:
        if self.audit_shards not in AUDIT_SHARDS_RANGE:
            raise ValueError(
                f"AUDIT_SHARDS must be from {AUDIT_SHARDS_RANGE.start} to {AUDIT_SHARDS_RANGE.stop - 1}, "
                f"not {self.audit_shards}"
            )

    @property
    def dashboard_keys(self) -> frozenset[str]:
        return frozenset(key.strip() for key in self.dashboard_api_key_ids.split(",") if key.strip())

    def require(self, name: str) -> str:
        """A setting the caller cannot work without; a missing one is a deployment error, said loudly."""
        value = getattr(self, name)
        if not value:
            raise RuntimeError(f"{name.upper()} is not set in this function's environment")
        return str(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    names = (field.name for field in fields(Settings))
    values: dict[str, Any] = {name: value for name in names if (value := os.environ.get(name.upper()))}
    if "audit_shards" in values:
        try:
            values["audit_shards"] = int(values["audit_shards"])
        except ValueError:
            raise ValueError(f"AUDIT_SHARDS must be a whole number, not {values['audit_shards']!r}") from None
    return Settings(**values)
