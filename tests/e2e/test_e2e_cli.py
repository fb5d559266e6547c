"""payctl against the running stack, from another process, through the state file and the moto endpoint."""

from __future__ import annotations

import json

from payctl.tools.submitter.journal import read_results


def test_get_api_key_reveals_the_generated_value_only_when_asked(payctl, local_stack, api_key):
    assert payctl("get-api-key").stdout.strip() == local_stack.api_key_id
    assert payctl("get-api-key", "--include-value").stdout.strip() == api_key
    assert api_key != local_stack.api_key_id


def test_submit_posts_a_batch_file_and_the_payments_finish(payctl, payment, tmp_path, wait_for_status):
    batch = [{"idempotency_key": f"cli-{payment()['reference']}", **payment()} for _ in range(3)]
    batch.append({"idempotency_key": "cli-invalid", **payment(currency="XXX")})
    path = tmp_path / "batch.json"
    path.write_text(json.dumps({"payments": batch}))
    results = tmp_path / "results.jsonl"

    output = payctl("submit", str(path), "--batch-size", "2", "--results", str(results), expect=1).stdout

    assert "accepted" in output
    outcome = sorted(read_results(results), key=lambda line: line["row"])
    assert [item["row"] for item in outcome] == [1, 2, 3, 4]
    assert [item["status"] for item in outcome] == ["accepted", "accepted", "accepted", "rejected"]
    assert outcome[3]["error"]["field"] == "currency"
    for item in outcome[:3]:
        assert wait_for_status(item["transaction_id"])["status"] == "SETTLED"


def test_status_reports_queues_and_counts(payctl, queue_drained):
    queue_drained()

    numbers = json.loads(payctl("local", "status", "--json").stdout.strip().splitlines()[-1])

    assert numbers["queue"] == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert numbers["statuses"]["SETTLED"] >= 1
    assert numbers["counters"]["payment.received"] >= numbers["statuses"]["SETTLED"]


def test_replay_without_a_selection_is_refused(payctl):
    refused = payctl("dlq", "replay", expect=1)

    assert "--all or --message-id" in refused.stderr
