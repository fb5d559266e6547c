"""API Gateway usage-plan enforcement: a token bucket per API key, plus the plan's quota.

API Gateway throttles with a token bucket whose size is the burst limit and whose refill rate
is the rate limit (requests per second). The quota is a plain counter per key that resets at
the start of each period (UTC), answered with 429 "Limit Exceeded" instead of "Too Many Requests".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

Clock = Callable[[], float]


class TokenBucket:
    """``rate`` tokens per second refill a bucket holding at most ``burst`` tokens."""

    def __init__(self, rate: Decimal, burst: int, clock: Clock = time.monotonic) -> None:
        if rate < 0 or burst < 0:
            raise ValueError("rate and burst must not be negative")
        self._rate = rate
        self._burst = Decimal(burst)
        self._clock = clock
        self._tokens = Decimal(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        with self._lock:
            now = self._clock()
            elapsed = Decimal(str(max(0.0, now - self._last)))
            self._last = now
            self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


class QuotaPeriod(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


def period_start(period: QuotaPeriod, now: datetime) -> datetime:
    """Start of the quota window containing ``now`` (UTC; weeks start on Monday)."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period is QuotaPeriod.DAY:
        return day
    if period is QuotaPeriod.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


class Quota:
    """At most ``limit`` requests per period; the count restarts when a new period begins."""

    def __init__(
        self, limit: int, period: QuotaPeriod = QuotaPeriod.DAY, now: Callable[[], datetime] | None = None
    ) -> None:
        self.limit = limit
        self.period = period
        self._now = now or (lambda: datetime.now(UTC))
        self._window: datetime | None = None
        self._used = 0
        self._lock = threading.Lock()

    def try_consume(self) -> bool:
        with self._lock:
            window = period_start(self.period, self._now())
            if window != self._window:
                self._window, self._used = window, 0
            if self._used >= self.limit:
                return False
            self._used += 1
            return True

    @property
    def remaining(self) -> int:
        with self._lock:
            if self._window != period_start(self.period, self._now()):
                return self.limit
            return max(0, self.limit - self._used)


@dataclass(frozen=True)
class UsagePlanLimits:
    """What one usage plan allows each of its keys; ``None`` means that limit is not set."""

    rate_limit: Decimal | None = None
    burst_limit: int | None = None
    quota_limit: int | None = None
    quota_period: QuotaPeriod = QuotaPeriod.DAY


class Verdict(StrEnum):
    ALLOW = "ALLOW"
    THROTTLED = "THROTTLED"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"


class UsagePlanEnforcer:
    """One bucket and one quota counter per (plan, key), created on a key's first request."""

    def __init__(self, clock: Clock = time.monotonic, now: Callable[[], datetime] | None = None) -> None:
        self._clock = clock
        self._now = now
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._quotas: dict[tuple[str, str], Quota] = {}
        self._lock = threading.Lock()

    def check(self, plan_id: str, key_id: str, limits: UsagePlanLimits) -> Verdict:
        slot = (plan_id, key_id)
        with self._lock:
            bucket = self._buckets.get(slot)
            if bucket is None and limits.rate_limit is not None:
                burst = limits.burst_limit if limits.burst_limit is not None else int(limits.rate_limit)
                bucket = self._buckets[slot] = TokenBucket(limits.rate_limit, burst, self._clock)
            quota = self._quotas.get(slot)
            if quota is None and limits.quota_limit is not None:
                quota = self._quotas[slot] = Quota(limits.quota_limit, limits.quota_period, self._now)
        # Throttling is checked first: a throttled request is not counted against the quota.
        if bucket is not None and not bucket.try_acquire():
            return Verdict.THROTTLED
        if quota is not None and not quota.try_consume():
            return Verdict.QUOTA_EXCEEDED
        return Verdict.ALLOW
