"""Benchmarks of the users' tools on the local stack (run once each; not tests).

``python -m payctl.devtools.bench_tools submit [--rows 100000]``
    Starts the local stack with its SQS pollers off (the benchmark measures the submitter and
    the accept path, not the workflow draining behind it), writes a JSON Lines file of valid
    payments, and runs ``payctl submit`` on it in its own process, as a submitter would. Reports
    rows/s over the wall time of that process, its peak resident memory (VmHWM), and its CPU time.

``python -m payctl.devtools.bench_tools audit [--rows 100000] [--repeat 20]``
    Starts the local stack, writes audit rows for the current hour straight into its audit table
    with BatchWriteItem (keys and index attributes as the audit writer makes them), then times
    ``GET /audit?limit=100`` through the API front with the dashboards' key: the very first
    request (the local runtime builds its view of the index then), then the first page and a
    later page (``next_token``), median and max over the repeats.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from payctl.local.cli import EXAMPLE_PAYMENT
from payctl.tools.api_client import ApiClient
from payctl.tools.connection import Connection
from payctl.tools.operator.status import audit_shards
from payctl.tools.stack_file import write_state

ROOT = Path(__file__).resolve().parents[2]
PARAMETERS = {
    "EnvironmentSuffix": "bench",
    "ApiThrottleRateLimit": "10000",
    "ApiThrottleBurstLimit": "10000",
}
PEAK_RUNNER = (
    "import atexit, re, sys\n"
    "def peak():\n"
    "    status = open('/proc/self/status').read()\n"
    "    print('peak_rss_kb=' + re.search(r'VmHWM:\\s+(\\d+)', status).group(1), file=sys.stderr)\n"
    "atexit.register(peak)\n"
    "from payctl.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _payment(index: int) -> dict[str, object]:
    return {
        **EXAMPLE_PAYMENT,
        # Never 13 digits in a row: the API refuses a key that looks like a card number.
        "idempotency_key": f"bench-{index:x}-{uuid.uuid4().hex[:4]}",
        "merchant_id": "m_bench",
        "amount": f"{10 + index % 90}.00",
        "customer": {"id": f"c_{index % 5000}", "country": "US"},
        "reference": f"order-{index}",
    }


def bench_submit(rows: int, concurrency: int) -> dict[str, object]:
    from payctl.local.local_stack import LocalStack

    with (
        tempfile.TemporaryDirectory() as folder,
        LocalStack(ROOT / "template.yaml", PARAMETERS, api_port=0, moto_port=0, pollers=False) as local,
    ):
        work = Path(folder)
        state = write_state(local.connection_info(), work / "local.json")
        source = work / "payments.jsonl"
        with source.open("w") as handle:
            for index in range(rows):
                handle.write(json.dumps(_payment(index)) + "\n")
        command = [sys.executable, "-c", PEAK_RUNNER, "submit", str(source), "--state-file", str(state)]
        command += ["--results", str(work / "results.jsonl"), "--concurrency", str(concurrency)]
        started = time.monotonic()
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        wall = time.monotonic() - started
        results = (work / "results.jsonl").read_text().splitlines()[1:]
        statuses: dict[str, int] = {}
        for line in results:
            status = json.loads(line)["status"]
            statuses[status] = statuses.get(status, 0) + 1
        peak = int(completed.stderr.rsplit("peak_rss_kb=", 1)[1].split()[0])
        return {
            "rows": rows,
            "exit_code": completed.returncode,
            "statuses": statuses,
            "wall_seconds": round(wall, 1),
            "rows_per_second": round(rows / wall, 1),
            "submitter_peak_rss_mb": round(peak / 1024, 1),
            "file_mb": round(source.stat().st_size / 2**20, 1),
        }


def bench_audit(rows: int, repeat: int) -> dict[str, object]:
    from payctl.local.local_stack import LocalStack

    with LocalStack(ROOT / "template.yaml", PARAMETERS, api_port=0, serve_moto=False, pollers=False) as local:
        dynamodb = boto3.client("dynamodb", region_name=local.region)
        shards = audit_shards(Connection.from_info(local.connection_info()))
        loaded = time.monotonic()
        _load_audit_rows(dynamodb, local.outputs["AuditTableName"], rows, shards)
        load_seconds = time.monotonic() - loaded
        client = ApiClient(local.api_url, local.api_key_value("DashboardApiKeyId"))
        return {"rows_stored": rows, "load_seconds": round(load_seconds, 1), **_time_pages(client, repeat)}


def _load_audit_rows(dynamodb: Any, table: str, rows: int, shards: int) -> None:
    """``rows`` settled rows over the last 50 minutes, keyed as the audit writer keys them."""
    from payments_core.audit import _gsi_keys

    start = datetime.now(UTC) - timedelta(minutes=50)
    step = timedelta(minutes=45) / rows
    for offset in range(0, rows, 25):
        items = []
        for index in range(offset, min(rows, offset + 25)):
            transaction_id = str(uuid.uuid4())
            at = (start + step * index).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            sk = "settlement#settled"
            gsi1pk, gsi1sk = _gsi_keys(transaction_id, sk, at, shards)
            item = {
                "pk": {"S": transaction_id},
                "sk": {"S": sk},
                "transaction_id": {"S": transaction_id},
                "at": {"S": at},
                "action": {"S": "payment.settled"},
                "actor": {"S": "settlement"},
                "detail": {"M": {}},
                "outcome": {"S": "SETTLED"},
                "gsi1pk": {"S": gsi1pk},
                "gsi1sk": {"S": gsi1sk},
            }
            items.append({"PutRequest": {"Item": item}})
        dynamodb.batch_write_item(RequestItems={table: items})


def _time_pages(client: ApiClient, repeat: int) -> dict[str, object]:
    """``GET /audit?limit=100``: the very first request, then the first and a later page, timed."""
    first, later = [], []
    token = None
    began = time.perf_counter()
    response = client.get("/audit", params={"limit": 100})
    very_first = time.perf_counter() - began  # includes building the local index view once
    assert response.status == 200, response.body[:300]
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.get("/audit", params={"limit": 100})
        first.append(time.perf_counter() - began)
        assert response.status == 200 and len(response.json()["events"]) == 100, response.body[:300]
        token = response.json()["next_token"]
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.get("/audit", params={"limit": 100, "next_token": token})
        later.append(time.perf_counter() - began)
        assert response.status == 200 and len(response.json()["events"]) == 100, response.body[:300]
    return {
        "very_first_request_ms": round(very_first * 1000),
        "first_page_ms": {"median": round(statistics.median(first) * 1000), "max": round(max(first) * 1000)},
        "second_page_ms": {"median": round(statistics.median(later) * 1000), "max": round(max(later) * 1000)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("which", choices=["submit", "audit"])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=4, help="payctl submit --concurrency")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    result = (
        bench_submit(args.rows, args.concurrency)
        if args.which == "submit"
        else bench_audit(args.rows, args.repeat)
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
