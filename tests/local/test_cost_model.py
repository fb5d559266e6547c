"""``make cost`` counts every request of a real local run; requests and write units per payment are pinned.

The counts are deterministic: the same payments, the same template and the same code make the same
requests with the same item sizes. A change that adds a request or a write unit per payment fails
here, and whoever makes it updates these numbers knowingly. Durations are not asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# 20 payments in one batch POST; 4 single POSTs.
PINNED = {
    "batch": {"requests_per_payment": 9.2, "api_requests_per_payment": 0.2, "wru_per_payment": 14.55},
    "single": {"requests_per_payment": 19.5, "api_requests_per_payment": 3.0, "wru_per_payment": 16.75},
}


def test_requests_and_write_units_per_payment_are_what_they_were(tmp_path: Path):
    out = tmp_path / "cost.json"
    done = subprocess.run(
        [sys.executable, "-m", "payctl.devtools.cost", "--batch", "20", "--single", "4", "--json", str(out)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())

    for path, pinned in PINNED.items():
        measured = {name: result[path][name] for name in pinned}
        assert measured == pinned, path
    batch = result["batch"]
    # Every line is priced from counts; the total is their sum.
    assert abs(sum(batch["dollars_by_line"].values()) - batch["dollars_per_million"]) < 0.01
    assert batch["requests_by_operation"]["stepfunctions StartSyncExecution"] == 1.0
    assert (
        result["seed"]["dollars_by_line"]["Step Functions"] > 10 * batch["dollars_by_line"]["Step Functions"]
    )
    assert "$ per 1M payments" in done.stdout
