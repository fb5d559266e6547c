"""A transaction's status. Kept apart from the pydantic models so that the functions which only
compare statuses (settlement, the archive, the stores) do not load pydantic on their cold start."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    RECEIVED = "RECEIVED"
    SETTLED = "SETTLED"
    DECLINED = "DECLINED"
    FAILED = "FAILED"


FINAL_STATUSES = frozenset({Status.SETTLED, Status.DECLINED})
