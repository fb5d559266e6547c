"""The validation step: what it stores, what it audits, and how a re-run behaves."""

from datetime import UTC, datetime

from tests.factories import payment
from tests.fakes import FakeAudit, FakeStore
from validation_svc.logic import ValidationPorts, validate_payment
from validation_svc.models import ValidationRequest

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def request(**payment_changes):
    return ValidationRequest.model_validate(
        {
            "transaction_id": "6b0e3c1e-0000-5000-8000-000000000001",
            "payment": payment(**payment_changes),
            "received_at": "x",
        }
    )


def test_a_passing_payment_is_stored_and_audited_as_passed():
    store, audit = FakeStore(), FakeAudit()

    validated = validate_payment(request(), ValidationPorts(store=store, audit=audit), clock=lambda: NOW)

    assert validated.result.model_dump() == {
        "outcome": "PASS",
        "reasons": [],
        "checked_at": "2026-03-01T12:00:00.000000Z",
    }
    assert store.written == [("6b0e3c1e-0000-5000-8000-000000000001", validated.result.model_dump())]
    (row,) = audit.rows.values()
    assert (row.step, row.event, row.action, row.actor, row.outcome) == (
        "validation",
        "completed",
        "validation.passed",
        "validation",
        "PASS",
    )
    assert validated.first_time


def test_a_failing_payment_is_a_fail_outcome_with_reasons_not_an_error():
    audit = FakeAudit()

    validated = validate_payment(
        request(amount="0.10"), ValidationPorts(store=FakeStore(), audit=audit), clock=lambda: NOW
    )

    assert validated.result.outcome == "FAIL"
    assert validated.result.reasons == ["amount_below_minimum"]
    (row,) = audit.rows.values()
    assert row.action == "validation.failed"
    assert row.detail == {"outcome": "FAIL", "reasons": ["amount_below_minimum"]}


def test_rerun_on_a_final_transaction_returns_the_stored_result_and_writes_nothing_new():
    """Given a DECLINED transaction holding an earlier FAIL, a re-run returns that FAIL as it was."""
    earlier = {
        "outcome": "FAIL",
        "reasons": ["amount_below_minimum"],
        "checked_at": "2026-02-01T00:00:00.000000Z",
    }
    audit = FakeAudit()
    validate_payment(
        request(amount="0.10"), ValidationPorts(store=FakeStore(), audit=audit), clock=lambda: NOW
    )
    store = FakeStore(final=True, earlier=earlier)

    validated = validate_payment(
        request(amount="0.10"), ValidationPorts(store=store, audit=audit), clock=lambda: NOW
    )

    assert validated.result.model_dump() == earlier
    assert store.written == []
    assert len(audit.rows) == 1
    assert not validated.first_time


def test_final_transaction_without_a_stored_result_returns_the_fresh_result():
    validated = validate_payment(
        request(), ValidationPorts(store=FakeStore(final=True), audit=FakeAudit()), clock=lambda: NOW
    )

    assert validated.result.outcome == "PASS"


def test_second_run_on_an_open_transaction_does_not_audit_twice():
    store, audit = FakeStore(), FakeAudit()

    validate_payment(request(), ValidationPorts(store=store, audit=audit), clock=lambda: NOW)
    again = validate_payment(request(), ValidationPorts(store=store, audit=audit), clock=lambda: NOW)

    assert len(audit.rows) == 1
    assert not again.first_time
