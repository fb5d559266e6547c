"""``make bench-local`` measures a real run: every payment terminal, and the figures derived from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_one_benchmark_mode_reports_a_complete_run():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "payctl.devtools.bench",
            "--one",
            "process",
            "--count",
            "6",
            "--timeout",
            "120",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])

    assert result["speedups"] is True
    assert result["payments"] == 6
    assert result["statuses"] == {"SETTLED": 6}
    assert abs(result["payments_per_s"] - 6 / result["elapsed_s"]) < 0.05
    assert 0 < result["p50_s"] <= result["p95_s"] <= result["elapsed_s"]
    assert result["cpu_ms_per_payment"] > 0
    assert 0 < result["cores_busy"] <= 2.5  # the stack runs in one process; its threads can use both cores
