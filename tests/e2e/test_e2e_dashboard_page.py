"""The web dashboard in a real headless Chromium: it loads without console errors and its numbers
equal a direct count in the audit table."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from payctl.tools.dashboard.figures import TERMINAL_ACTIONS
from tests.e2e.test_e2e_browser import CHROMIUM_FLAGS
from tests.e2e.test_e2e_dashboard import counted_today


def test_the_web_dashboard_shows_the_tables_counts_in_chromium(
    local_stack, api, aws, payment, wait, wait_for_status, queue_drained, tmp_path
):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("headless Chromium is needed for this test: apt-get install chromium (.ci/run does)")
    results = api.post(
        "/payments/batch",
        {
            "payments": [
                {"idempotency_key": f"page-{n}-{payment()['reference']}", **payment()} for n in range(2)
            ]
        },
    ).json()["results"]
    for result in results:
        wait_for_status(result["transaction_id"])
    queue_drained()
    key = local_stack.api_key_value("DashboardApiKeyId")
    direct = counted_today(api, aws, wait, local_stack.outputs["AuditTableName"], key)
    base = local_stack.api_url.rsplit("/", 1)[0]

    rendered = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={tmp_path}",
            "--dump-dom",
            f"{base}/dashboard/#key={key}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert rendered.returncode == 0, rendered.stderr[-2000:]
    console = [line for line in rendered.stderr.splitlines() if "CONSOLE" in line]
    assert console == [], console
    assert 'data-state="ready"' in rendered.stdout, re.findall(r'<p id="state">[^<]*', rendered.stdout)
    shown = {m[0]: int(m[1]) for m in re.findall(r'id="today-(\w+)" data-value="(\d+)"', rendered.stdout)}
    assert {word: shown[word] for word in TERMINAL_ACTIONS.values()} == {
        word: direct[action] for action, word in TERMINAL_ACTIONS.items()
    }
    hour = {m[0]: int(m[1]) for m in re.findall(r'id="hour-(\w+)" data-value="(\d+)"', rendered.stdout)}
    assert sum(hour.values()) >= 2
    bars = re.findall(r'<rect [^>]*data-value="(\d+)"', rendered.stdout)
    assert bars, "no chart was drawn"
