"""The card-data sweep over everything the e2e run wrote: every response body the API front sent,
every line the functions logged, every item of every table and every archive object. No card
number (13-19 Luhn-valid digits, with or without separators) and no CVV-like field anywhere."""

from __future__ import annotations

import pytest

from payctl.devtools.card_sweep import sweep

pytestmark = [pytest.mark.e2e, pytest.mark.card_sweep]


def test_nothing_the_run_wrote_holds_card_data(aws, queue_drained, run_record):
    queue_drained()
    lines = [line for text in run_record.output for line in text.splitlines()]

    report = sweep(responses=run_record.responses, log_lines=lines, dynamodb=aws("dynamodb"), s3=aws("s3"))

    # The sweep looked at what the run wrote, not at nothing (it runs after every other e2e test;
    # on its own it has nothing to read, and says so by failing here).
    for kind in ("response bodies", "log lines", "table items", "archive objects"):
        assert report.counts.get(kind, 0) > 0, report.summary()
    print(report.summary())
    assert report.findings == [], report.summary()
