"""``make chaos``: a seeded fault run that loses nothing, and a conservation check that can fail."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

from payctl.devtools.chaos_plan import FUNCTIONS, chaos_payments, fault_plan
from payctl.devtools.conservation import Snapshot, check
from payctl.runtime.faults import Kind

ROOT = Path(__file__).resolve().parents[2]


def test_a_200_payment_run_under_every_kind_of_fault_loses_nothing(tmp_path):
    report = tmp_path / "chaos.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "payctl.devtools.chaos",
            *("--payments", "200", "--seed", "7", "--timeout", "240"),
            *("--report", str(report), "--lambda-log", str(tmp_path / "lambda.log")),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    result = json.loads(report.read_text())

    assert (done.returncode, result["violations"]) == (0, []), done.stdout[-4000:]
    assert result["accepted"] == 200
    rows = {row[0].strip(): row[1] for row in result["conservation"]}
    assert (rows["SETTLED"], rows["DECLINED"]) == ("160", "40")
    assert set(result["faults_by_kind"]) == {kind.value for kind in Kind}
    assert "0 violations" in done.stdout


# ---------------------------------------------------------------------------- the checker


def _tid() -> str:
    return str(uuid.uuid4())


def _settled(tid: str, amount: str = "12.34") -> Snapshot:
    rows = [
        {"pk": tid, "sk": sk, "action": action}
        for sk, action in (
            ("ingest#received", "payment.received"),
            ("validation#completed", "validation.passed"),
            ("fraud#completed", "fraud.approved"),
            ("settlement#settled", "payment.settled"),
        )
    ]
    return Snapshot(
        transactions={
            tid: {"transaction_id": tid, "status": "SETTLED", "amount": Decimal(amount), "currency": "USD"}
        },
        settlements={tid: {"transaction_id": tid, "amount": Decimal(amount)}},
        archive={tid: [{"transaction_id": tid, "amount": amount}]},
        rows={tid: rows},
        counters=Counter(row["action"] for row in rows),
        dlq=set(),
    )


def test_a_complete_settled_payment_passes_with_equal_sums():
    tid = _tid()

    result = check(_settled(tid), [tid])

    assert result.violations == []
    assert ("settled USD", "12.34", "settlements 12.34", "archive 12.34") in result.table


def test_a_settled_payment_without_its_archive_or_last_row_is_a_violation_named_by_its_id():
    tid = _tid()
    snap = _settled(tid)
    snap.archive.clear()
    snap.rows[tid] = [row for row in snap.rows[tid] if row["sk"] != "settlement#settled"]
    snap.counters["payment.settled"] -= 1

    whats = [what for t, what in check(snap, [tid]).violations if t == tid]

    assert "SETTLED with 0 archive entries" in whats
    assert "SETTLED: audit trail lacks ['settlement#settled']" in whats


def test_counters_that_differ_from_the_rows_and_a_second_archive_version_are_violations():
    tid = _tid()
    snap = _settled(tid)
    snap.counters["payment.settled"] += 1
    snap.archive[tid].append({"transaction_id": tid, "amount": "12.34"})

    whats = {what for _, what in check(snap, [tid]).violations}

    assert "counter payment.settled is 2, the table holds 1 rows" in whats
    assert "SETTLED with 2 archive entries" in whats


def test_an_accepted_payment_missing_or_failed_outside_the_dlq_is_a_violation():
    tid, missing = _tid(), _tid()
    snap = _settled(tid)
    snap.transactions[tid]["status"] = "FAILED"

    violations = check(snap, [tid, missing]).violations

    assert (missing, "accepted by the API but no transaction item") in violations
    assert (tid, "FAILED but not in the DLQ") in violations
    assert (tid, "FAILED with a settlement record or an archive entry") in violations


# ---------------------------------------------------------------------------- the plan and inputs


def test_the_plan_covers_every_kind_for_every_function_and_the_payments_are_mixed():
    names = {logical_id: f"fn-{logical_id}" for logical_id in FUNCTIONS}

    plan = fault_plan(3, 0.1, names, "queue")
    payments = chaos_payments(100, 3)

    assert {rule.kind for rule in plan.rules} == set(Kind)
    assert {rule.function for rule in plan.rules if rule.function} == set(names.values())
    assert chaos_payments(100, 3) == payments
    assert Counter(p["amount"] == "0.10" for p in payments)[True] == 10
    assert sum(1 for p in payments if p["payment_method"]["country"] == "KP") == 10


def test_the_dlq_rows_tell_failed_payments_from_messages_of_payments_already_done():
    done, failed = _tid(), _tid()
    snap = _settled(done)
    snap.transactions[failed] = {
        "transaction_id": failed,
        "status": "FAILED",
        "amount": Decimal(1),
        "currency": "USD",
    }
    snap.rows[failed] = [
        {"pk": failed, "sk": "ingest#received", "action": "payment.received"},
        {"pk": failed, "sk": "settlement#failed#x-1", "action": "payment.failed"},
    ]
    snap.counters.update(["payment.received", "payment.failed"])
    snap.dlq = {done, failed}

    result = check(snap, [done, failed])

    assert result.violations == []
    rows = {row[0].strip(): row[1] for row in result.table}
    assert (rows["FAILED and in the DLQ"], rows["DLQ messages of payments already done"]) == ("1", "1")
