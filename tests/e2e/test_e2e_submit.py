"""payctl submit, status and wait against the running stack, from their own processes."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import uuid

from payctl.tools.submitter.journal import read_results
from tests.e2e.conftest import REPO_ROOT

CSV_COLUMNS = [
    "idempotency_key",
    "merchant_id",
    "amount",
    "currency",
    "payment_method.type",
    "payment_method.token",
    "payment_method.last4",
    "payment_method.brand",
    "payment_method.country",
    "customer.id",
    "customer.country",
]
# Prints the process's peak resident memory after payctl ran, so a test can bound it. VmHWM, not
# getrusage: ru_maxrss survives exec, so a child of the (large) test process would report its size.
PEAK_RSS_RUNNER = (
    "import atexit, re, sys\n"
    "def peak():\n"
    "    status = open('/proc/self/status').read()\n"
    "    print('peak_rss_kb=' + re.search(r'VmHWM:\\s+(\\d+)', status).group(1), file=sys.stderr)\n"
    "atexit.register(peak)\n"
    "from payctl.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _key(prefix: str, index: int) -> str:
    """Unique, and never 13 digits in a row: a key that looks like a card number is refused."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}-{index}"


def _csv_row(payment, key, **overrides):
    row = {
        "idempotency_key": key,
        "merchant_id": payment["merchant_id"],
        "amount": payment["amount"],
        "currency": payment["currency"],
        **{f"payment_method.{k}": v for k, v in payment["payment_method"].items()},
        "customer.id": payment["customer"]["id"],
        "customer.country": payment["customer"]["country"],
    }
    row.update(overrides)
    return row


def _jsonl(path, payments):
    with path.open("w") as handle:
        for payment in payments:
            handle.write(json.dumps(payment) + "\n")


def test_a_csv_with_bad_rows_gets_per_row_errors_and_a_non_zero_exit(
    payctl, payment, idempotency_key, tmp_path
):
    path = tmp_path / "day.csv"
    rows = [_csv_row(payment(), _key("csv", index)) for index in range(4)]
    rows[1]["amount"] = "12.345"  # too many decimals for USD: refused locally
    rows[2]["payment_method.brand"] = "diners"  # not a supported brand
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    results = tmp_path / "day.results.jsonl"

    run = payctl("submit", str(path), "--results", str(results), expect=1)

    lines = {line["row"]: line for line in read_results(results)}
    assert sorted(lines) == [1, 2, 3, 4]
    assert [lines[n]["status"] for n in (1, 2, 3, 4)] == ["accepted", "rejected", "rejected", "accepted"]
    assert lines[2]["error"]["field"] == "amount"
    assert lines[3]["error"]["field"] == "payment_method.brand"
    assert "2 row(s) rejected" in run.stderr
    waited = payctl("wait", str(results), "--timeout", "90").stdout
    assert "2 payments terminal: 2 settled" in waited
    status = payctl("status", lines[1]["transaction_id"], "--json").stdout
    assert json.loads(status)["status"] == "SETTLED"


def test_an_interrupted_submit_resumes_with_no_row_twice_and_none_missing(
    state_file, payment, tmp_path, aws, local_stack
):
    count = 120
    path = tmp_path / "big.jsonl"
    _jsonl(
        path,
        [{"idempotency_key": _key("resume", n), **payment(merchant_id="m_resume")} for n in range(count)],
    )
    results = tmp_path / "big.results.jsonl"
    command = [sys.executable, "-m", "payctl", "submit", str(path), "--results", str(results)]
    command += ["--state-file", str(state_file), "--batch-size", "10", "--concurrency", "2"]

    # Slow enough (--rate) that the run is surely killed half-way, with batches in flight.
    process = subprocess.Popen([*command, "--rate", "40"], cwd=REPO_ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not results.exists() or len(read_results(results)) < 30):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    finished_before = len(read_results(results))
    assert 30 <= finished_before < count

    resumed = subprocess.run(
        [*command, "--resume"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )

    rejected = [line for line in read_results(results) if line["status"] == "rejected"]
    assert resumed.returncode == 0, (resumed.stderr, rejected)
    lines = read_results(results)
    assert sorted(line["row"] for line in lines) == list(range(1, count + 1))
    assert {line["status"] for line in lines} <= {"accepted", "replayed"}
    transaction_ids = {line["transaction_id"] for line in lines}
    assert len(transaction_ids) == count
    # Every row is one payment at the API: each key's transaction is recorded exactly once.
    dynamodb = aws("dynamodb")
    table = local_stack.outputs["TransactionsTableName"]

    def recorded():
        found = set()
        for start in range(0, count, 100):
            keys = [{"transaction_id": {"S": t}} for t in sorted(transaction_ids)[start : start + 100]]
            answer = dynamodb.batch_get_item(RequestItems={table: {"Keys": keys}})
            found |= {item["transaction_id"]["S"] for item in answer["Responses"][table]}
        return found

    deadline = time.monotonic() + 90
    while recorded() != transaction_ids and time.monotonic() < deadline:
        time.sleep(1)
    assert recorded() == transaction_ids


def _peak_rss_kb(state_file, *args):
    completed = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_RUNNER, *args, "--state-file", str(state_file)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return int(completed.stderr.rsplit("peak_rss_kb=", 1)[1].split()[0])


def test_a_100000_row_file_is_streamed_at_bounded_memory(state_file, payment, tmp_path):
    template = payment()
    big = tmp_path / "big.jsonl"
    small = tmp_path / "small.jsonl"
    with big.open("w") as handle:
        for index in range(100_000):
            handle.write(
                json.dumps({**template, "idempotency_key": f"mem-{index}", "reference": f"r-{index}"})
            )
            handle.write("\n")
    with small.open("w") as handle:
        for index in range(1_000):
            handle.write(json.dumps({**template, "idempotency_key": f"mem-{index}"}) + "\n")

    big_peak = _peak_rss_kb(state_file, "submit", str(big), "--dry-run")
    small_peak = _peak_rss_kb(state_file, "submit", str(small), "--dry-run")

    # Reading and checking 100x the rows costs no more memory: nothing is held per row.
    assert big_peak - small_peak < 10 * 1024, (big_peak, small_peak)
    assert big_peak < 100 * 1024


def test_stdin_json_is_submitted_with_a_real_run_at_the_same_memory(state_file, payment, tmp_path):
    items = [{"idempotency_key": _key("stdin", index), **payment()} for index in range(20)]
    source = tmp_path / "batch.json"
    source.write_text(json.dumps({"payments": items}))
    results = tmp_path / "stdin.results.jsonl"

    tail = ["--state-file", str(state_file), "--batch-size", "5"]
    with source.open("rb") as stdin:
        completed = subprocess.run(
            [sys.executable, "-c", PEAK_RSS_RUNNER, "submit", "-", "--results", str(results), *tail],
            cwd=REPO_ROOT,
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert completed.returncode == 0, completed.stderr
    assert [line["status"] for line in read_results(results)] == ["accepted"] * 20
    # The HTTP client and the batches in flight add a few MB to what the parse alone needs.
    assert int(completed.stderr.rsplit("peak_rss_kb=", 1)[1].split()[0]) < 120 * 1024
