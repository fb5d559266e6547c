"""The submitter's parts without a stack: reading formats, keys, the journal, retries and resumes."""

from __future__ import annotations

import io
import json
import random
import threading
from decimal import Decimal

import pytest

from payctl.local.cli import EXAMPLE_PAYMENT
from payctl.tools.api_client import ApiResponse, ApiUnreachable
from payctl.tools.submitter.journal import Journal, JournalError, RowSet, read_results
from payctl.tools.submitter.reader import InputError, read_rows
from payctl.tools.submitter.rows import check_row, derived_key
from payctl.tools.submitter.send import Backoff, BatchSender, RunStopped, retry_after_seconds, submit


def _rows(data: bytes, name: str = "-"):
    rows, _ = read_rows(io.BytesIO(data), name)
    return list(rows)


def test_csv_columns_nest_by_dots_and_empty_cells_are_left_out():
    data = b"idempotency_key,amount,payment_method.token,customer.id,metadata.order\nk1,12.34,tok_x,,o-1\n"

    (row,) = _rows(data, "payments.csv")

    assert row.payment == {
        "idempotency_key": "k1",
        "amount": "12.34",
        "payment_method": {"token": "tok_x"},
        "metadata": {"order": "o-1"},
    }


def test_json_lines_report_a_bad_line_and_go_on():
    rows = _rows(b'{"amount": 1.50}\nnot json\n\n[1]\n{"amount": "2"}\n', "x.jsonl")

    assert [r.number for r in rows] == [1, 2, 3, 4]
    assert rows[0].payment == {"amount": Decimal("1.50")}
    assert rows[1].error.startswith("not JSON") and rows[2].error == "a line must hold one JSON object"
    assert rows[3].payment == {"amount": "2"}


@pytest.mark.parametrize(
    "document", [b'{"payments": [{"amount": 1.10}, {"amount": 2}]}', b'[{"amount": 1.10}, {"amount": 2}]']
)
def test_json_is_parsed_incrementally_with_decimals_and_sniffed_on_stdin(document):
    rows = _rows(document, "-")

    assert [r.payment for r in rows] == [{"amount": Decimal("1.10")}, {"amount": 2}]


def test_a_broken_json_file_stops_with_the_item_it_reached():
    with pytest.raises(InputError, match="after item 1"):
        _rows(b'[{"amount": 1}, {"amount": ', "x.json")


def test_a_derived_key_depends_on_the_content_only():
    first = derived_key({"amount": "1.00", "currency": "USD"})

    assert first == derived_key({"currency": "USD", "amount": "1.00"})
    assert first != derived_key({"currency": "USD", "amount": "1.01"})


def test_rows_are_checked_with_the_apis_payment_model_and_card_data_never_travels():
    good = check_row(1, {"idempotency_key": "k", **EXAMPLE_PAYMENT}, None, "idempotency_key")
    bad_amount = check_row(2, {**EXAMPLE_PAYMENT, "amount": "1.234"}, None, "idempotency_key")
    card = check_row(3, {**EXAMPLE_PAYMENT, "reference": "4242424242424242"}, None, "idempotency_key")
    unreadable = check_row(4, None, "not JSON", "idempotency_key")
    card_key = check_row(
        5, {"idempotency_key": "4242-4242-4242-4242", **EXAMPLE_PAYMENT}, None, "idempotency_key"
    )

    assert good.error is None and good.item["idempotency_key"] == "k"
    assert bad_amount.error["code"] == "invalid_amount" and bad_amount.error["field"] == "amount"
    assert card.error == {
        "code": "card_data_not_allowed",
        "message": "card numbers and security codes are not accepted",
        "field": "reference",
    }
    assert "4242424242424242" not in json.dumps(card.error)
    assert unreadable.error["code"] == "unreadable_row"
    assert (card_key.error["code"], card_key.error["field"]) == ("card_data_not_allowed", "idempotency_key")


def test_a_row_set_keeps_few_intervals_for_rows_finishing_nearly_in_order():
    done = RowSet()
    for number in [*range(1, 501), *range(1001, 1501), *range(501, 1001)]:
        done.add(number)

    assert len(done) == 1500 and done.intervals == 1
    assert 1500 in done and 1501 not in done and 0 not in done


def test_the_journal_refuses_to_overwrite_and_resumes_past_a_torn_line(tmp_path):
    path = tmp_path / "r.jsonl"
    journal = Journal(path, source="p.csv", resume=False)
    journal.record(1, "k1", "accepted", "t1")
    journal.record(3, "k3", "rejected", error={"code": "invalid_amount", "message": "m"})
    journal.close()
    with path.open("a") as handle:
        handle.write('{"row": 2, "idempot')  # a crash mid-line

    with pytest.raises(JournalError, match="--resume"):
        Journal(path, source="p.csv", resume=False)
    with pytest.raises(JournalError, match=r"records a run of 'p\.csv'"):
        Journal(path, source="other.csv", resume=True)
    resumed = Journal(path, source="p.csv", resume=True)
    resumed.record(2, "k2", "replayed", "t2")
    resumed.close()

    assert 1 in resumed.done and 3 in resumed.done
    assert [line["row"] for line in read_results(path)] == [1, 3, 2]


class ScriptedApi:
    """Answers POST /payments/batch from a script of responses, then accepts everything."""

    def __init__(self, *script):
        self.script = list(script)
        self.calls: list[list[str]] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0

    def post(self, path, body, headers=None, **kwargs):
        keys = [item["idempotency_key"] for item in body["payments"]]
        with self.lock:
            self.calls.append(keys)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            step = self.script.pop(0) if self.script else None
        try:
            if isinstance(step, Exception):
                raise step
            if callable(step):
                return step(keys)
            if step is not None:
                return step
            results = [
                {"index": i, "status": "accepted", "transaction_id": f"t-{k}"} for i, k in enumerate(keys)
            ]
            return ApiResponse(207, {}, json.dumps({"results": results}).encode())
        finally:
            with self.lock:
                self.in_flight -= 1


def _checked(count: int, start: int = 1):
    return [
        check_row(n, {"idempotency_key": f"k{n}", **EXAMPLE_PAYMENT}, None, "idempotency_key")
        for n in range(start, start + count)
    ]


def _sender(api, slept):
    return BatchSender(
        api, backoff=Backoff(base=0.25, cap=20, attempts=5), sleep=slept.append, rng=random.Random(7)
    )


def test_throttling_and_5xx_are_retried_with_full_jitter_at_least_retry_after():
    api = ScriptedApi(
        ApiResponse(429, {"retry-after": "3"}, b'{"error": {"code": "throttled"}}'),
        ApiResponse(503, {}, b"{}"),
        ApiUnreachable("refused"),
    )
    slept: list[float] = []

    outcome = _sender(api, slept).send(_checked(2))

    assert len(api.calls) == 4
    assert slept[0] >= 3.0
    assert 0 <= slept[1] <= 0.5 and 0 <= slept[2] <= 1.0
    assert [result["status"] for _, result in outcome.results] == ["accepted", "accepted"]


def test_only_items_with_a_retryable_error_are_sent_again():
    def one_in_progress(keys):
        results = [{"index": 0, "status": "accepted", "transaction_id": "t1"}]
        results.append({"index": 1, "status": "rejected", "error": {"code": "request_in_progress"}})
        results.append({"index": 2, "status": "rejected", "error": {"code": "invalid_payment"}})
        return ApiResponse(207, {}, json.dumps({"results": results}).encode())

    api = ScriptedApi(one_in_progress)

    outcome = _sender(api, []).send(_checked(3))

    assert api.calls == [["k1", "k2", "k3"], ["k2"]]
    statuses = {checked.number: result["status"] for checked, result in outcome.results}
    assert statuses == {1: "accepted", 3: "rejected", 2: "accepted"}


def test_a_4xx_that_would_fail_again_is_not_retried_and_a_refused_key_stops_the_run():
    refused = ScriptedApi(ApiResponse(422, {}, b'{"error": {"code": "invalid_payment", "message": "m"}}'))
    outcome = _sender(refused, []).send(_checked(2))
    assert len(refused.calls) == 1
    assert {result["error"]["code"] for _, result in outcome.results} == {"invalid_payment"}

    with pytest.raises(RunStopped, match="HTTP 403"):
        _sender(ScriptedApi(ApiResponse(403, {}, b'{"error": {}}')), []).send(_checked(1))


def test_exhausted_retries_leave_rows_unjournaled_for_a_resume(tmp_path):
    api = ScriptedApi(*[ApiResponse(503, {}, b"{}")] * 5)
    journal = Journal(tmp_path / "r.jsonl", source="x", resume=False)

    tally = submit(_checked(3), journal, _sender(api, []), batch_size=3)
    journal.close()

    assert (tally.not_sent, tally.accepted) == (3, 0)
    assert read_results(tmp_path / "r.jsonl") == []


def test_a_resumed_run_sends_only_the_rows_the_journal_lacks(tmp_path):
    path = tmp_path / "r.jsonl"
    first = Journal(path, source="x", resume=False)
    for number in (1, 2, 5):
        first.record(number, f"k{number}", "accepted", f"t-k{number}")
    first.close()
    api = ScriptedApi()

    journal = Journal(path, source="x", resume=True)
    tally = submit(_checked(6), journal, _sender(api, []), batch_size=2, concurrency=2)
    journal.close()

    assert sorted(key for call in api.calls for key in call) == ["k3", "k4", "k6"]
    assert sorted(line["row"] for line in read_results(path)) == [1, 2, 3, 4, 5, 6]
    assert (tally.resumed, tally.accepted) == (3, 6)


def test_no_more_batches_than_the_concurrency_are_in_flight(tmp_path):
    gate = threading.Event()

    def slow(keys):
        gate.wait(0.05)
        results = [{"index": i, "status": "accepted", "transaction_id": k} for i, k in enumerate(keys)]
        return ApiResponse(207, {}, json.dumps({"results": results}).encode())

    api = ScriptedApi(*[slow] * 20)
    journal = Journal(tmp_path / "r.jsonl", source="x", resume=False)

    tally = submit(_checked(40), journal, _sender(api, []), batch_size=2, concurrency=3)
    journal.close()

    assert tally.accepted == 40 and len(api.calls) == 20
    assert api.most_in_flight <= 3


@pytest.mark.parametrize(("header", "expected"), [("2", 2.0), ("600", 60.0), (None, None), ("soon", None)])
def test_retry_after_is_read_in_seconds_and_capped(header, expected):
    assert retry_after_seconds(header) == expected
