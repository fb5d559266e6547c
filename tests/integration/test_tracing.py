"""The layer ships the X-Ray SDK, and the handlers trace through it (behind Powertools' Tracer)."""

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.integration.xray_probe import FACADE_PARENT, TRACE_ID

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


def _segments(probed):
    assert all(document["header"] == {"format": "json", "version": 1} for document in probed["documents"])
    return [document["body"] for document in probed["documents"]]


def _handler_segment(segments, service):
    handler = next(s for s in segments if s["name"] == "## lambda_handler")
    assert handler["trace_id"] == TRACE_ID
    assert handler["annotations"]["Service"] == service
    return handler


def _dynamodb_calls(segments):
    return [s for s in segments if s.get("namespace") == "aws" and s["name"] == "dynamodb"]


def _ancestors(segment, segments):
    """The ids of the subsegments a subsegment is nested in, innermost first."""
    by_id = {s["id"]: s for s in segments}
    chain = []
    while segment.get("parent_id") in by_id:
        segment = by_id[segment["parent_id"]]
        chain.append(segment["id"])
    return chain


def test_handlers_trace_through_the_xray_sdk_without_payment_data():
    """Given traced Lambda invocations (trace header set, a daemon listening on loopback), when the
    validation and fraud handlers run, then the X-Ray SDK sends each handler's subsegment under the
    invocation's trace and a subsegment per DynamoDB call, inside the handler's: none for
    validation, which makes no AWS call, and fraud's velocity query alone. No payment data is
    recorded."""
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
    validation, fraud = report["ValidationFunction"], report["FraudFunction"]

    assert validation["result"]["outcome"] == "PASS"
    assert fraud["result"]["outcome"] == "APPROVE"
    validation_segments, fraud_segments = _segments(validation), _segments(fraud)
    validation_handler = _handler_segment(validation_segments, "validation")
    assert validation_handler["parent_id"] == FACADE_PARENT
    assert _dynamodb_calls(validation_segments) == []
    fraud_handler = _handler_segment(fraud_segments, "fraud")
    (query,) = _dynamodb_calls(fraud_segments)
    assert (query["aws"]["operation"], query["aws"]["index_name"]) == ("Query", "by_customer")
    assert (query["trace_id"], fraud_handler["id"] in _ancestors(query, fraud_segments)) == (TRACE_ID, True)
    emitted = json.dumps([*validation_segments, *fraud_segments])
    assert "tok_" not in emitted
    assert "12.34" not in emitted
    assert "c_42" not in emitted
