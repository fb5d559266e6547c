"""The Swagger UI page, rendered by a real browser (headless Chromium) against the local API front."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

# The flags a sandboxed, offline machine needs: no background connections to Google's services.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=10000",
)


def test_swagger_ui_renders_every_route_of_the_template_in_chromium(local_stack, tmp_path):
    """Given the API front's /docs page, when Chromium runs its scripts, then Swagger UI has loaded
    the spec and rendered one operation per route the template declares."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("headless Chromium is needed for this test: apt-get install chromium (.ci/run does)")
    base = local_stack.api_url.rsplit("/", 1)[0]

    rendered = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path}", "--dump-dom", f"{base}/docs"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert rendered.returncode == 0, rendered.stderr[-2000:]
    operations = set(re.findall(r'data-path="([^"]+)"', rendered.stdout))
    routes = {route.resource_path for route in local_stack.api.routes}
    assert operations == routes
    assert "Payments API" in rendered.stdout
