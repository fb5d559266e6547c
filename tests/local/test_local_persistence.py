"""A local stack with a state directory survives a restart: same keys, same payments, same DLQ."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import boto3

from payctl.local.local_stack import LocalStack
from payctl.tools.api_client import ApiClient

REPO_ROOT = Path(__file__).resolve().parents[2]
PARAMETERS = {"EnvironmentSuffix": "persist"}
PAYMENT = {
    "merchant_id": "m_persist",
    "amount": "25.00",
    "currency": "EUR",
    "payment_method": {
        "type": "card",
        "token": "tok_visa_4242",
        "last4": "4242",
        "brand": "visa",
        "country": "DE",
    },
    "customer": {"id": "c_persist", "country": "DE"},
}


def _stack(state_dir: Path | None, api_port: int = 0) -> LocalStack:
    return LocalStack(
        REPO_ROOT / "template.yaml",
        PARAMETERS,
        api_port=api_port,
        moto_port=0,
        state_dir=state_dir,
        save_interval=3600,
    )


def _wait_settled(api: ApiClient, transaction_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = api.get(f"/payments/{transaction_id}")
        if response.status == 200 and response.json()["status"] == "SETTLED":
            return response.json()
        time.sleep(0.25)
    raise AssertionError(f"{transaction_id} did not settle in {timeout}s")


def test_a_restarted_stack_keeps_its_keys_payments_and_dlq_messages(tmp_path):
    state_dir = tmp_path / "state"
    with _stack(state_dir) as first:
        key_id, key = first.api_key_id, first.api_key_value()
        api_port = first.api_server.port
        api = ApiClient(first.api_url, key)
        accepted = api.post("/payments", PAYMENT, headers={"Idempotency-Key": f"persist-{uuid.uuid4().hex}"})
        transaction_id = accepted.json()["transaction_id"]
        settled = _wait_settled(api, transaction_id)
        api.close()
        sqs = boto3.client("sqs", region_name=first.region)
        dlq_url = first.outputs["PaymentsDLQUrl"]
        sqs.send_message(QueueUrl=dlq_url, MessageBody='{"parked": true}')

    # The same API port at once: a stop leaves nothing that blocks it.
    with _stack(state_dir, api_port=api_port) as second:
        assert second.restored is not None
        assert second.api_key_id == key_id
        assert second.api_key_value() == key
        api = ApiClient(second.api_url, key)
        again = api.get(f"/payments/{transaction_id}")
        api.close()
        sqs = boto3.client("sqs", region_name=second.region)
        parked = sqs.receive_message(QueueUrl=second.outputs["PaymentsDLQUrl"], WaitTimeSeconds=1)

    assert again.status == 200
    assert again.json()["status"] == "SETTLED"
    assert again.json()["amount"] == settled["amount"] == "25.00"
    assert [message["Body"] for message in parked["Messages"]] == ['{"parked": true}']


def test_without_a_state_directory_the_stack_is_ephemeral(tmp_path):
    with _stack(None) as first:
        key_id = first.api_key_id
        assert first.ephemeral
    with _stack(None) as second:
        assert second.restored is None
        assert second.api_key_id != key_id
