"""Timestamps as the tables store them: ISO-8601 UTC that parses back to the same moment."""

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from payments_core.clock import iso, parse_iso


@given(
    moment=st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.just(UTC))
)
def test_iso_round_trips_for_any_year(moment):
    assert parse_iso(iso(moment)) == moment


def test_a_year_below_1000_keeps_four_digits():
    assert (
        iso(datetime(404, 12, 18, 2, 31, 21, tzinfo=timezone(timedelta(hours=13))))
        == "0404-12-17T13:31:21.000000Z"
    )
