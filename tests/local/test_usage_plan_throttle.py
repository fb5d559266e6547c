"""Usage-plan enforcement: API Gateway's token bucket (rate, burst) and the per-period quota."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from payctl.local.throttle import (
    Quota,
    QuotaPeriod,
    TokenBucket,
    UsagePlanEnforcer,
    UsagePlanLimits,
    Verdict,
    period_start,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_bucket_allows_the_burst_at_once_then_refuses():
    clock = FakeClock()
    bucket = TokenBucket(rate=Decimal(2), burst=3, clock=clock)

    results = [bucket.try_acquire() for _ in range(4)]

    assert results == [True, True, True, False]


def test_bucket_refills_at_the_rate_but_never_beyond_the_burst():
    clock = FakeClock()
    bucket = TokenBucket(rate=Decimal(2), burst=3, clock=clock)
    for _ in range(3):
        bucket.try_acquire()

    clock.advance(0.5)
    assert bucket.try_acquire() is True
    assert bucket.try_acquire() is False

    clock.advance(60)
    assert [bucket.try_acquire() for _ in range(4)] == [True, True, True, False]


def test_fractional_rate_refills_one_token_per_two_seconds():
    clock = FakeClock()
    bucket = TokenBucket(rate=Decimal("0.5"), burst=1, clock=clock)
    assert bucket.try_acquire() is True

    clock.advance(1.9)
    assert bucket.try_acquire() is False
    clock.advance(0.2)
    assert bucket.try_acquire() is True


def test_negative_limits_are_rejected():
    with pytest.raises(ValueError):
        TokenBucket(rate=Decimal(-1), burst=1)


def test_quota_exhausts_and_resets_at_the_next_utc_day():
    now = [datetime(2026, 3, 1, 23, 59, tzinfo=UTC)]
    quota = Quota(limit=2, period=QuotaPeriod.DAY, now=lambda: now[0])

    assert [quota.try_consume() for _ in range(3)] == [True, True, False]
    assert quota.remaining == 0

    now[0] += timedelta(minutes=2)
    assert quota.remaining == 2
    assert quota.try_consume() is True


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        (QuotaPeriod.DAY, datetime(2026, 3, 5, tzinfo=UTC)),
        (QuotaPeriod.WEEK, datetime(2026, 3, 2, tzinfo=UTC)),
        (QuotaPeriod.MONTH, datetime(2026, 3, 1, tzinfo=UTC)),
    ],
)
def test_quota_windows_start_at_utc_day_monday_and_first_of_month(period, expected):
    assert period_start(period, datetime(2026, 3, 5, 17, 30, tzinfo=UTC)) == expected


def test_enforcer_checks_throttle_before_quota_and_does_not_count_throttled_requests():
    clock = FakeClock()
    enforcer = UsagePlanEnforcer(clock=clock)
    limits = UsagePlanLimits(rate_limit=Decimal(1), burst_limit=1, quota_limit=2)

    assert enforcer.check("plan", "key", limits) is Verdict.ALLOW
    assert enforcer.check("plan", "key", limits) is Verdict.THROTTLED
    clock.advance(1)
    assert enforcer.check("plan", "key", limits) is Verdict.ALLOW
    clock.advance(1)
    assert enforcer.check("plan", "key", limits) is Verdict.QUOTA_EXCEEDED


def test_each_key_has_its_own_bucket():
    enforcer = UsagePlanEnforcer(clock=FakeClock())
    limits = UsagePlanLimits(rate_limit=Decimal(1), burst_limit=1)

    assert enforcer.check("plan", "key-a", limits) is Verdict.ALLOW
    assert enforcer.check("plan", "key-b", limits) is Verdict.ALLOW
    assert enforcer.check("plan", "key-a", limits) is Verdict.THROTTLED


def test_a_plan_without_limits_allows_everything():
    enforcer = UsagePlanEnforcer(clock=FakeClock())

    assert all(enforcer.check("plan", "key", UsagePlanLimits()) is Verdict.ALLOW for _ in range(1000))
