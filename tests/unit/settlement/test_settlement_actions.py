"""Settle, decline and fail against in-memory stand-ins that keep the real guards' semantics."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from payments_core.errors import DependencyError, InvalidAmount, StatusTransitionRejected, TransactionNotFound
from payments_core.models import Status
from settlement_svc.logic import process
from settlement_svc.models import read_request
from settlement_svc.ports import LedgerWrite, SettlementPorts
from tests.factories import payment
from tests.fakes import FakeAudit, FakeTransactions

TRANSACTION_ID = "6b0e3c1e-0000-5000-8000-000000000003"
CREATED_AT = "2026-03-01T23:59:59.500000Z"
PAYMENT = payment(amount="100.00")
PASSED = {
    "validation": {"outcome": "PASS", "reasons": [], "checked_at": "t"},
    "fraud": {"outcome": "APPROVE", "score": "0.00", "reasons": [], "checked_at": "t"},
}


class FakeLedger:
    """The settlements table, written in one transaction with the transactions table's status."""

    def __init__(self, transactions):
        self.records = {}
        self.transactions = transactions

    def settle(self, record, settlement, now):
        tid = record["transaction_id"]
        earlier = self.records.get(tid)
        item = self.transactions.items.get(tid)
        refused = item is None or item.get("status") not in (Status.RECEIVED, Status.FAILED)
        if earlier is not None or refused:
            return LedgerWrite(
                applied=False,
                earlier=dict(earlier) if earlier else None,
                status_refused=refused,
                status=Status(item["status"]) if refused and item and "status" in item else None,
            )
        self.records[tid] = dict(record)
        item.update(settlement=settlement, status=Status.SETTLED, updated_at=now)
        return LedgerWrite(applied=True)


class Clock:
    def __init__(self):
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self):
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def deps():
    transactions = FakeTransactions(
        {
            TRANSACTION_ID: {
                "transaction_id": TRANSACTION_ID,
                "status": Status.RECEIVED,
                "created_at": CREATED_AT,
            }
        }
    )
    audit = FakeAudit()
    return SettlementPorts(
        transactions=transactions,
        ledger=FakeLedger(transactions),
        audit=audit,
        completion=audit,
        clock=Clock(),
    )


def run(deps, action, **fields):
    event = {
        "action": action,
        "transaction_id": TRANSACTION_ID,
        "payment": PAYMENT,
        "checks": PASSED,
        "received_at": CREATED_AT,
        **fields,
    }
    return process(read_request(event), deps)


def test_settle_writes_record_status_and_audit(deps):
    outcome = run(deps, "settle")

    assert outcome.status == Status.SETTLED
    assert outcome.detail["settlement"] == {
        "amount": "100.00",
        "currency": "USD",
        "fee": "3.20",
        "net": "96.80",
        "settled_at": "2026-03-02T09:00:01.000000Z",
    }
    assert deps.transactions.status_of(TRANSACTION_ID) == Status.SETTLED
    assert deps.ledger.records[TRANSACTION_ID]["received_at"] == CREATED_AT
    (row,) = deps.audit.rows.values()
    assert (row.step, row.event, row.action, row.outcome) == (
        "settlement",
        "settled",
        "payment.settled",
        "SETTLED",
    )
    assert outcome.first_time


def test_settle_reads_nothing_before_its_write(deps, monkeypatch):
    """Given the transaction's guard refuses what is not open, settle needs no read of the item."""
    monkeypatch.setattr(deps.transactions, "get", lambda transaction_id: pytest.fail("read before settle"))

    assert run(deps, "settle").status == Status.SETTLED


def test_settle_needs_the_received_time_from_the_workflow(deps):
    event = {"action": "settle", "transaction_id": TRANSACTION_ID, "payment": PAYMENT, "checks": PASSED}

    with pytest.raises(ValueError, match="received_at"):
        read_request(event)


def test_settling_twice_settles_once(deps):
    """Given a settled payment, when settle runs again, nothing new is written and the result is the same."""
    first = run(deps, "settle")
    record = dict(deps.ledger.records[TRANSACTION_ID])

    second = run(deps, "settle")

    assert second.detail == first.detail
    assert deps.ledger.records[TRANSACTION_ID] == record
    assert len(deps.audit.rows) == 1
    assert not second.first_time


def test_settle_after_a_crash_completes_the_audit_row_with_the_earlier_record(deps):
    """Given a run that wrote record and status together and died before its audit row, a retry
    audits with that record's settlement time."""
    run(deps, "settle")
    deps.audit.rows.clear()

    retry = run(deps, "settle")

    assert retry.detail["settlement"]["settled_at"] == "2026-03-02T09:00:01.000000Z"
    (row,) = deps.audit.rows.values()
    assert row.detail["settled_at"] == "2026-03-02T09:00:01.000000Z"
    assert retry.first_time


def test_settle_reuses_a_record_whose_status_never_moved(deps):
    """Given a record written before record and status went together, whose status stayed open,
    a retry moves the status with that record's settlement."""
    run(deps, "settle")
    deps.transactions.items[TRANSACTION_ID]["status"] = Status.RECEIVED
    deps.audit.rows.clear()

    retry = run(deps, "settle")

    assert retry.detail["settlement"]["settled_at"] == "2026-03-02T09:00:01.000000Z"
    assert deps.transactions.status_of(TRANSACTION_ID) == Status.SETTLED
    assert (
        deps.transactions.items[TRANSACTION_ID]["settlement"]["settled_at"] == "2026-03-02T09:00:01.000000Z"
    )


def test_a_settled_transaction_without_its_record_is_an_error_not_a_new_record(deps):
    run(deps, "settle")
    deps.ledger.records.clear()

    with pytest.raises(DependencyError, match="no settlement record"):
        run(deps, "settle")

    assert deps.ledger.records == {}


def test_settle_after_decline_is_rejected_and_writes_nothing(deps):
    """The transaction's guard refuses the whole write: no settlement record, still DECLINED."""
    run(deps, "decline", checks={**PASSED, "validation": {"outcome": "FAIL", "reasons": ["token_invalid"]}})

    with pytest.raises(StatusTransitionRejected):
        run(deps, "settle")

    assert deps.ledger.records == {}
    assert deps.transactions.status_of(TRANSACTION_ID) == Status.DECLINED


def test_settle_of_a_transaction_never_received_is_not_found(deps):
    deps.transactions.items.clear()

    with pytest.raises(TransactionNotFound):
        run(deps, "settle")


def test_a_failed_payment_can_still_be_settled_by_a_retry(deps):
    run(deps, "fail", error={"Error": "DependencyError", "Cause": "throttled"})

    outcome = run(deps, "settle")

    assert outcome.status == Status.SETTLED
    assert deps.transactions.status_of(TRANSACTION_ID) == Status.SETTLED


def test_decline_records_reasons_and_audits_once(deps):
    declined = {**PASSED, "fraud": {"outcome": "DECLINE", "score": "0.80", "reasons": ["velocity_high"]}}

    first = run(deps, "decline", checks=declined)
    again = run(deps, "decline", checks=declined)

    assert first.status == again.status == Status.DECLINED
    assert deps.transactions.items[TRANSACTION_ID]["decline_reasons"] == [
        "fraud_risk_too_high",
        "velocity_high",
    ]
    assert again.detail == first.detail
    (row,) = deps.audit.rows.values()
    assert (row.event, row.action, row.outcome) == ("declined", "payment.declined", "DECLINED")
    assert row.detail == {"reasons": ["fraud_risk_too_high", "velocity_high"]}
    assert not again.first_time


def test_decline_after_settle_is_rejected(deps):
    run(deps, "settle")

    with pytest.raises(StatusTransitionRejected):
        run(deps, "decline", checks={**PASSED, "validation": {"outcome": "FAIL", "reasons": ["x"]}})

    assert deps.transactions.status_of(TRANSACTION_ID) == Status.SETTLED


def test_fail_records_failed_with_error_and_cause(deps):
    outcome = run(deps, "fail", error={"Error": "DependencyError", "Cause": "archive write failed"})

    assert outcome.status == Status.FAILED
    assert deps.transactions.items[TRANSACTION_ID]["failure"] == {
        "error": "DependencyError",
        "cause": "archive write failed",
    }
    (row,) = deps.audit.rows.values()
    assert (row.event, row.action, row.outcome) == ("failed", "payment.failed", "FAILED")


def test_fail_on_a_final_transaction_is_a_no_op(deps):
    run(deps, "settle")

    outcome = run(deps, "fail", error={"Error": "X", "Cause": "late duplicate"})

    assert outcome.status == Status.SETTLED
    assert outcome.detail == {"complete": True}
    assert not outcome.first_time
    assert "failure" not in deps.transactions.items[TRANSACTION_ID]
    assert [row.event for row in deps.audit.rows.values()] == ["settled"]


def test_fail_after_a_settlement_left_half_done_says_it_is_incomplete_and_a_rerun_finishes_it(deps):
    """Given a crash right after the settlement transaction, When the failure path runs, Then it
    writes nothing and reports the payment incomplete; a re-run of settle then completes it."""

    class AuditDownOnce(FakeAudit):
        def append(self, event):
            if not getattr(self, "refused", False):
                self.refused = True
                raise DependencyError("audit table write failed")
            return super().append(event)

    audit = AuditDownOnce()
    deps = dataclasses.replace(deps, audit=audit, completion=audit)
    with pytest.raises(DependencyError):
        run(deps, "settle")

    failed = run(deps, "fail", error={"Error": "DependencyError", "Cause": "audit table write failed"})
    assert (failed.status, failed.detail) == (Status.SETTLED, {"complete": False})
    assert audit.rows == {}

    settled = run(deps, "settle")
    assert settled.first_time
    assert run(deps, "fail", error={"Error": "X", "Cause": "late"}).detail == {"complete": True}


def test_fail_on_a_declined_payment_without_its_row_is_incomplete(deps):
    deps.transactions.items[TRANSACTION_ID]["status"] = Status.DECLINED

    outcome = run(deps, "fail", error={"Error": "X", "Cause": "y"})

    assert (outcome.status, outcome.detail) == (Status.DECLINED, {"complete": False})


def test_each_named_attempt_gets_its_own_failed_row_and_a_retried_attempt_does_not(deps):
    """Given two workflow attempts (execution names -1 and -2), two rows; the same attempt again adds none."""
    for name in (f"{TRANSACTION_ID}-1", f"{TRANSACTION_ID}-2", f"{TRANSACTION_ID}-2"):
        run(deps, "fail", error={"Error": "X", "Cause": "y"}, execution_name=name)

    assert sorted(sk for _, sk in deps.audit.rows) == [
        f"settlement#failed#{TRANSACTION_ID}-1",
        f"settlement#failed#{TRANSACTION_ID}-2",
    ]


def test_unnamed_attempts_share_one_failed_row(deps):
    run(deps, "fail", error={"Error": "X", "Cause": "first"})
    run(deps, "fail", error={"Error": "X", "Cause": "second"})

    assert [sk for _, sk in deps.audit.rows] == ["settlement#failed"]
    assert deps.transactions.items[TRANSACTION_ID]["failure"]["cause"] == "second"


def test_settle_refuses_a_payment_whose_amount_is_not_exact_in_its_currency(deps):
    with pytest.raises(InvalidAmount):
        run(deps, "settle", payment={**PAYMENT, "amount": "100.001"})

    assert deps.ledger.records == {}
