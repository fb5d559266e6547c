"""The layer ships the X-Ray SDK, and the handlers trace through it (behind Powertools' Tracer)."""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_layer_pins_the_xray_sdk_with_powertools_tracer_and_pydantic():
    """Given the layer's requirements, the tracing stack is pinned to exact versions."""
    pins = {}
    for line in (ROOT / "shared" / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(\[[a-z,]+\])?==(\S+)$", line.strip())
        if match:
            pins[match.group(1).lower()] = (match.group(2), match.group(3))

    assert "aws-xray-sdk" in pins
    assert pins["aws-lambda-powertools"][0] == "[tracer]"
    assert "pydantic" in pins


def test_handlers_trace_through_the_xray_sdk_without_payment_data():
    """Given a traced Lambda invocation (trace header set, a daemon listening on loopback),
    when the validation handler runs, then the X-Ray SDK sends the handler's subsegment under the
    invocation's trace and a subsegment per DynamoDB call, and no payment data is recorded."""
    probe = subprocess.run(
        [sys.executable, "-m", "tests.integration.xray_probe"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    segments = [document["body"] for document in report["documents"]]

    assert report["result"]["outcome"] == "PASS"
    assert all(document["header"] == {"format": "json", "version": 1} for document in report["documents"])
    handler = next(s for s in segments if s["name"] == "## lambda_handler")
    assert handler["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert handler["parent_id"] == "53995c3f42cd8ad8"
    assert handler["annotations"]["Service"] == "validation"
    operations = {s["aws"]["operation"] for s in segments if s.get("namespace") == "aws"}
    assert {"UpdateItem", "PutItem"} <= operations
    emitted = json.dumps(segments)
    assert "tok_" not in emitted
    assert "12.34" not in emitted
