"""Settle, decline and fail against an in-memory transactions table that keeps the real guard's
semantics; the audit rows are the ones the trail derives from the item each write leaves."""

from datetime import UTC, datetime, timedelta

import pytest

from payments_core.audit_trail import state_change_events
from payments_core.errors import InvalidAmount, StatusTransitionRejected, TransactionNotFound
from payments_core.status import Status
from settlement_svc.logic import process
from settlement_svc.models import read_request
from settlement_svc.ports import SettlementPorts
from tests.factories import payment
from tests.fakes import FakeTransactions

TRANSACTION_ID = "6b0e3c1e-0000-5000-8000-000000000003"
CREATED_AT = "2026-03-01T23:59:59.500000Z"
PAYMENT = payment(amount="100.00")
PASSED = {
    "validation": {"outcome": "PASS", "reasons": [], "checked_at": "2026-03-02T08:59:59.000000Z"},
    "fraud": {
        "outcome": "APPROVE",
        "score": "0.00",
        "reasons": [],
        "checked_at": "2026-03-02T08:59:59.500000Z",
    },
}


class Clock:
    def __init__(self):
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self):
        self.now += timedelta(seconds=1)
        return self.now


class CountingTransactions(FakeTransactions):
    """Counts the writes that landed: each is one state change, one stream record."""

    def __init__(self, items):
        super().__init__(items)
        self.landed = []

    def transition(self, transaction_id, to, fields, now, *, attempt=None):
        write = super().transition(transaction_id, to, fields, now, attempt=attempt)
        if write.applied:
            self.landed.append(dict(self.items[transaction_id]))
        return write


@pytest.fixture
def deps():
    transactions = CountingTransactions(
        {
            TRANSACTION_ID: {
                "transaction_id": TRANSACTION_ID,
                "status": Status.RECEIVED,
                "amount": PAYMENT["amount"],
                "currency": "USD",
                "created_at": CREATED_AT,
            }
        }
    )
    return SettlementPorts(transactions=transactions, clock=Clock())


def run(deps, action, **fields):
    event = {
        "action": action,
        "transaction_id": TRANSACTION_ID,
        "payment": PAYMENT,
        "checks": PASSED,
        **fields,
    }
    return process(read_request(event), deps)


def trail(deps):
    """Every audit row key the landed writes stand for, in order."""
    return [
        f"{event.step}#{event.event}"
        for item in deps.transactions.landed
        for event, _ in state_change_events(item)
    ]


def item(deps):
    return deps.transactions.items[TRANSACTION_ID]


def test_settle_is_one_write_of_status_settlement_and_checks(deps):
    outcome = run(deps, "settle")

    assert outcome.status == Status.SETTLED
    assert outcome.detail["settlement"] == {
        "amount": "100.00",
        "currency": "USD",
        "fee": "3.20",
        "net": "96.80",
        "settled_at": "2026-03-02T09:00:01.000000Z",
    }
    assert len(deps.transactions.landed) == 1
    assert item(deps)["status"] == Status.SETTLED
    assert item(deps)["validation"] == PASSED["validation"]
    assert item(deps)["fraud"] == PASSED["fraud"]
    assert trail(deps) == ["validation#completed", "fraud#completed", "settlement#settled"]
    assert outcome.first_time


def test_the_trail_of_a_settlement_carries_each_check_at_its_own_time(deps):
    run(deps, "settle")

    stamps = {f"{e.step}#{e.event}": (e.action, at) for e, at in state_change_events(item(deps))}

    assert stamps == {
        "validation#completed": ("validation.passed", "2026-03-02T08:59:59.000000Z"),
        "fraud#completed": ("fraud.approved", "2026-03-02T08:59:59.500000Z"),
        "settlement#settled": ("payment.settled", "2026-03-02T09:00:01.000000Z"),
    }


def test_settle_reads_nothing_before_its_write(deps, monkeypatch):
    """Given the transaction's guard refuses what is not open, settle needs no read of the item."""
    monkeypatch.setattr(deps.transactions, "get", lambda transaction_id: pytest.fail("read before settle"))

    assert run(deps, "settle").status == Status.SETTLED


def test_settling_twice_settles_once(deps):
    """Given a settled payment, when settle runs again (a crash after its write, a retry), nothing
    new is written and the result is the earlier one."""
    first = run(deps, "settle")

    second = run(deps, "settle")

    assert second.detail == first.detail
    assert len(deps.transactions.landed) == 1
    assert not second.first_time


def test_settle_after_decline_is_rejected_and_writes_nothing(deps):
    run(deps, "decline", checks={**PASSED, "validation": {"outcome": "FAIL", "reasons": ["token_invalid"]}})

    with pytest.raises(StatusTransitionRejected):
        run(deps, "settle")

    assert "settlement" not in item(deps)
    assert item(deps)["status"] == Status.DECLINED


def test_settle_of_a_transaction_never_received_is_not_found(deps):
    deps.transactions.items.clear()

    with pytest.raises(TransactionNotFound):
        run(deps, "settle")


def test_a_failed_payment_can_still_be_settled_by_a_retry(deps):
    run(deps, "fail", error={"Error": "DependencyError", "Cause": "throttled"}, execution_name="x-1")

    outcome = run(deps, "settle")

    assert outcome.status == Status.SETTLED
    assert trail(deps) == [
        "settlement#failed#x-1",
        "validation#completed",
        "fraud#completed",
        "settlement#settled",
    ]


def test_decline_records_reasons_and_checks_once(deps):
    declined = {
        **PASSED,
        "fraud": {"outcome": "DECLINE", "score": "0.80", "reasons": ["velocity_high"], "checked_at": "t"},
    }

    first = run(deps, "decline", checks=declined)
    again = run(deps, "decline", checks=declined)

    assert first.status == again.status == Status.DECLINED
    assert item(deps)["decline_reasons"] == ["fraud_risk_too_high", "velocity_high"]
    assert again.detail == first.detail
    assert trail(deps) == ["validation#completed", "fraud#completed", "settlement#declined"]
    (declined_row,) = [e for e, _ in state_change_events(item(deps)) if e.event == "declined"]
    assert declined_row.detail == {"reasons": ["fraud_risk_too_high", "velocity_high"]}
    assert not again.first_time


def test_decline_after_settle_is_rejected(deps):
    run(deps, "settle")

    with pytest.raises(StatusTransitionRejected):
        run(deps, "decline", checks={**PASSED, "validation": {"outcome": "FAIL", "reasons": ["x"]}})

    assert item(deps)["status"] == Status.SETTLED


def test_fail_records_failed_with_error_cause_and_attempt(deps):
    outcome = run(
        deps, "fail", error={"Error": "DependencyError", "Cause": "throttled"}, execution_name="x-1"
    )

    assert outcome.status == Status.FAILED
    assert item(deps)["failure"] == {"error": "DependencyError", "cause": "throttled", "execution": "x-1"}
    ((event, _),) = state_change_events(item(deps))
    assert (event.event, event.action, event.outcome) == ("failed#x-1", "payment.failed", "FAILED")
    assert event.detail == {"error": "DependencyError", "cause": "throttled"}


def test_fail_on_a_final_transaction_is_a_no_op_and_says_it_is_complete(deps):
    run(deps, "settle")

    outcome = run(deps, "fail", error={"Error": "X", "Cause": "late duplicate"})

    assert outcome.status == Status.SETTLED
    assert outcome.detail == {"complete": True}
    assert not outcome.first_time
    assert "failure" not in item(deps)
    assert len(deps.transactions.landed) == 1


def test_each_named_attempt_records_its_failure_and_a_retried_attempt_does_not(deps):
    """Given two workflow attempts (execution names -1 and -2), two writes; the same attempt again
    writes nothing, so the trail has one row per attempt."""
    outcomes = [
        run(deps, "fail", error={"Error": "X", "Cause": "y"}, execution_name=f"{TRANSACTION_ID}-{n}")
        for n in (1, 2, 2)
    ]

    assert [o.first_time for o in outcomes] == [True, True, False]
    assert trail(deps) == [f"settlement#failed#{TRANSACTION_ID}-1", f"settlement#failed#{TRANSACTION_ID}-2"]
    assert outcomes[2].detail["failure"]["execution"] == f"{TRANSACTION_ID}-2"


def test_settle_refuses_a_payment_whose_amount_is_not_exact_in_its_currency(deps):
    with pytest.raises(InvalidAmount):
        run(deps, "settle", payment={**PAYMENT, "amount": "100.001"})

    assert deps.transactions.landed == []


def test_an_unnamed_attempt_records_its_failure_once(deps):
    first = run(deps, "fail", error={"Error": "X", "Cause": "first"})
    again = run(deps, "fail", error={"Error": "X", "Cause": "second"})

    assert (first.first_time, again.first_time) == (True, False)
    assert trail(deps) == ["settlement#failed"]
    assert item(deps)["failure"]["cause"] == "first"
