"""Configuration, read once from the function's environment (set by template.yaml)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Final

from pydantic import BaseModel, Field

# The audit GSI's shards per day when AUDIT_SHARDS is unset (the template sets it for every function).
DEFAULT_AUDIT_SHARDS: Final[int] = 16


class Settings(BaseModel):
    environment: str = "dev"
    transactions_table: str = ""
    settlements_table: str = ""
    audit_table: str = ""
    idempotency_table: str = ""
    archive_bucket: str = ""
    payments_queue_url: str = ""
    state_machine_arn: str = ""
    audit_shards: int = Field(default=DEFAULT_AUDIT_SHARDS, ge=10, le=256)
    # Comma-separated API key ids that may read every payment's audit rows; none when unset.
    dashboard_api_key_ids: str = ""
    # The one origin browsers may read the API's answers from (a dashboard hosted apart); none when unset.
    allowed_origin: str = ""

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
    fields = Settings.model_fields
    values = {name: os.environ[name.upper()] for name in fields if os.environ.get(name.upper())}
    return Settings.model_validate(values)
