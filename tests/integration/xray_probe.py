"""Runs real handlers with tracing on, as Lambda would, and prints what the X-Ray SDK sent for each.

Executed in its own interpreter by test_tracing.py: the runtime switches tracing off for the
local stack, and the X-Ray SDK's recorder is process-global, so the probe must not share a
process with the other tests. It listens on a UDP port on loopback as the X-Ray daemon would.
"""

from __future__ import annotations

import json
import os
import socket
import sys

TRACE_ID = "1-5759e988-bd862e3fe1be46a994272793"
FACADE_PARENT = "53995c3f42cd8ad8"
# The handlers probed, in order, each with its sample event. Validation makes no AWS call; fraud
# makes one (the velocity query), so the SDK's botocore patch is seen at work.
PROBES = {"ValidationFunction": "events/validation_input.json", "FraudFunction": "events/workflow_input.json"}


def _sent(daemon: socket.socket) -> list[dict[str, object]]:
    """Every document the SDK has sent so far (it sends a subsegment when it closes)."""
    documents = []
    while True:
        try:
            datagram = daemon.recv(65535).decode()
        except TimeoutError:
            return documents
        header, _, body = datagram.partition("\n")
        documents.append({"header": json.loads(header), "body": json.loads(body)})


def main() -> None:
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(0.5)
    from payctl.runtime import deploy, moto_session

    with moto_session():
        stack = deploy("template.yaml")
        # What the Lambda service sets for a traced invocation; the runtime's own switch-off undone.
        os.environ.update(
            {
                "POWERTOOLS_TRACE_DISABLED": "false",
                "AWS_XRAY_SDK_ENABLED": "true",
                "AWS_XRAY_CONTEXT_MISSING": "RUNTIME_ERROR",
                "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
                "LAMBDA_TASK_ROOT": "/var/task",
                "_X_AMZN_TRACE_ID": f"Root={TRACE_ID};Parent={FACADE_PARENT};Sampled=1",
            }
        )
        report = {}
        for function, sample in PROBES.items():
            with open(sample) as handle:
                result = stack.invoke(function, json.load(handle))
            report[function] = {"result": result, "documents": _sent(daemon)}
    sys.stdout.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
