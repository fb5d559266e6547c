"""The web dashboard in a real headless Chromium: it loads without console errors and its numbers
equal a direct count in the audit table."""

from __future__ import annotations

import re
import shutil
import subprocess

import httpx
import pytest

from payctl.tools.dashboard.figures import TERMINAL_ACTIONS
from tests.e2e.test_e2e_browser import CHROMIUM_FLAGS
from tests.e2e.test_e2e_dashboard import counted_today


def test_the_static_dashboard_on_its_own_origin_shows_the_tables_counts_in_chromium(
    local_stack, api, aws, payment, wait, wait_for_status, queue_drained, payctl, static_site, tmp_path
):
    """The page as `payctl dashboard-page` writes it, hosted apart from the API: every read is a
    cross-origin request with a preflight, as in a deployment with DashboardOrigin set."""
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
    payctl("dashboard-page", "--output", str(static_site.root / "index.html"))

    rendered = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={tmp_path}",
            "--dump-dom",
            f"{static_site.origin}/index.html#key={key}",
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
    # The rows follow the state changes through the transactions stream, so earlier tests' payments
    # can still add rows while the page loads: the page's counts lie between the direct counts
    # taken before and after it (both only grow).
    after = counted_today(api, aws, wait, local_stack.outputs["AuditTableName"], key)
    for action, word in TERMINAL_ACTIONS.items():
        assert direct[action] <= shown[word] <= after[action], (
            word,
            direct[action],
            shown[word],
            after[action],
        )
    hour = {m[0]: int(m[1]) for m in re.findall(r'id="hour-(\w+)" data-value="(\d+)"', rendered.stdout)}
    assert sum(hour.values()) >= 2
    bars = re.findall(r'<rect [^>]*data-value="(\d+)"', rendered.stdout)
    assert bars, "no chart was drawn"


def _request(method, url, **headers):
    return httpx.request(method, url, headers=headers, timeout=30)


def test_a_preflight_from_the_dashboards_origin_is_answered_without_a_key(local_stack, static_site):
    response = _request(
        "OPTIONS",
        f"{local_stack.api_url}/audit",
        Origin=static_site.origin,
        **{"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-api-key"},
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == static_site.origin
    assert "x-api-key" in response.headers["access-control-allow-headers"].split(",")
    assert "GET" in response.headers["access-control-allow-methods"].split(",")


def test_only_the_dashboards_origin_may_read_the_answers(local_stack, static_site):
    key = local_stack.api_key_value("DashboardApiKeyId")
    url = f"{local_stack.api_url}/audit/counters"

    allowed = _request("GET", url, Origin=static_site.origin, **{"x-api-key": key})
    other = _request("GET", url, Origin="http://elsewhere.example", **{"x-api-key": key})
    refused = _request("GET", url, Origin=static_site.origin)

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == static_site.origin
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    # API Gateway's own refusal carries the header too, so the page can show why it was refused.
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "invalid_api_key"
    assert refused.headers["access-control-allow-origin"] == static_site.origin
