"""Deploy profiles and the sample Lambda events stay consistent with the template and the contract."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from payments_core.ids import payload_hash, transaction_id
from payments_core.models import Payment, PaymentMessage, example_payment

PROFILES = ["default", "prod"]


@pytest.fixture(scope="module")
def samconfig(samconfig_path: Path) -> dict[str, Any]:
    return tomllib.loads(samconfig_path.read_text())


def _overrides(samconfig: dict[str, Any], profile: str) -> dict[str, str]:
    pairs = shlex.split(samconfig[profile]["deploy"]["parameters"]["parameter_overrides"])
    return dict(pair.split("=", 1) for pair in pairs)


def _event(events_dir: Path, name: str) -> dict[str, Any]:
    return json.loads((events_dir / name).read_text())


@pytest.mark.parametrize("profile", PROFILES)
def test_deploy_profile_can_create_iam_roles_and_stage_artifacts(
    profile: str, samconfig: dict[str, Any]
) -> None:
    """Given sam deploy with a profile, it may create the generated roles and uploads to a managed bucket."""
    deploy = samconfig[profile]["deploy"]["parameters"]

    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True
    assert samconfig[profile]["global"]["parameters"]["stack_name"]


def test_prod_deploys_show_the_change_set_first(samconfig: dict[str, Any]) -> None:
    """Given a prod deploy, the operator confirms the change set; dev deploys do not stop."""
    assert samconfig["prod"]["deploy"]["parameters"]["confirm_changeset"] is True
    assert samconfig["default"]["deploy"]["parameters"]["confirm_changeset"] is False


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_overrides_are_valid_template_parameters(
    profile: str, samconfig: dict[str, Any], template: dict[str, Any]
) -> None:
    """Given a profile's overrides, each names a template parameter and satisfies its constraints."""
    parameters = template["Parameters"]

    for name, value in _overrides(samconfig, profile).items():
        spec = parameters[name]
        if "AllowedValues" in spec:
            assert value in {str(allowed) for allowed in spec["AllowedValues"]}, name
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), name
        if "MinValue" in spec:
            assert float(value) >= spec["MinValue"], name


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_keeps_visibility_at_six_consumer_timeouts(
    profile: str, samconfig: dict[str, Any], resources: dict[str, Any], make_resolver: Callable[..., Any]
) -> None:
    """Given a profile's overrides, the deployed queue still outlasts six consumer timeouts."""
    resolver = make_resolver(**_overrides(samconfig, profile))
    visibility = resolver.resolve(resources["PaymentsQueue"]["Properties"]["VisibilityTimeout"])
    timeout = resolver.resolve(resources["IngestConsumerFunction"]["Properties"]["Timeout"])

    assert int(visibility) >= 6 * int(timeout)


def test_prod_protects_its_tables_and_profiles_do_not_share_a_stack(samconfig: dict[str, Any]) -> None:
    """Given prod data, its tables have deletion protection and its stack differs from dev's."""
    prod, dev = _overrides(samconfig, "prod"), _overrides(samconfig, "default")

    assert prod["Environment"] == "prod"
    assert prod["DeletionProtection"] == "true"
    assert dev["Environment"] == "dev"
    assert (
        samconfig["prod"]["global"]["parameters"]["stack_name"]
        != samconfig["default"]["global"]["parameters"]["stack_name"]
    )


@pytest.mark.parametrize(
    ("name", "method", "resource"),
    [
        ("api_post_payment.json", "POST", "/payments"),
        ("api_post_batch.json", "POST", "/payments/batch"),
        ("api_get_payment.json", "GET", "/payments/{transaction_id}"),
    ],
)
def test_api_event_is_a_v1_proxy_event_with_an_api_key_id(
    name: str, method: str, resource: str, events_dir: Path
) -> None:
    """Given a sample API event, it is a REST (v1) proxy event whose submitter is the API key id."""
    event = _event(events_dir, name)

    assert (event["httpMethod"], event["resource"]) == (method, resource)
    assert event["requestContext"]["stage"] == "v1"
    assert event["requestContext"]["identity"]["apiKeyId"]
    assert "x-api-key" in event["headers"]


def test_post_payment_event_carries_an_idempotency_key_and_a_valid_payment(events_dir: Path) -> None:
    """Given the single-payment sample, it has an Idempotency-Key and a body the Payment model accepts."""
    event = _event(events_dir, "api_post_payment.json")

    assert 1 <= len(event["headers"]["Idempotency-Key"]) <= 255
    Payment.model_validate(json.loads(event["body"]))


def test_post_batch_event_gives_every_item_its_own_key(events_dir: Path) -> None:
    """Given the batch sample, each item has an idempotency_key and is otherwise a valid payment."""
    payments = json.loads(_event(events_dir, "api_post_batch.json")["body"])["payments"]

    assert 1 <= len(payments) <= 500
    for item in payments:
        assert item["idempotency_key"]
        Payment.model_validate({k: v for k, v in item.items() if k != "idempotency_key"})


def test_sqs_sample_messages_match_the_contract_and_their_own_ids(events_dir: Path) -> None:
    """Given the SQS sample, bodies parse as PaymentMessage and their ids and hashes are the real ones.

    The consumer recomputes both, so a sample with made-up values would be rejected as tampered.
    """
    records = _event(events_dir, "sqs_payment_batch.json")["Records"]

    for record in records:
        message = PaymentMessage.model_validate_json(record["body"])
        attributes = record["messageAttributes"]
        assert message.transaction_id == transaction_id(message.submitter, message.idempotency_key)
        assert message.payload_hash == payload_hash(message.payment.to_document())
        assert attributes["transaction_id"]["stringValue"] == message.transaction_id
        assert attributes["submitter"]["stringValue"] == message.submitter
        assert record["attributes"]["ApproximateReceiveCount"]


def test_workflow_samples_use_the_consumer_input_shape(events_dir: Path) -> None:
    """Given the workflow and validation samples, they are {transaction_id, payment, received_at}."""
    for name in ("workflow_input.json", "validation_input.json"):
        event = _event(events_dir, name)
        assert set(event) == {"transaction_id", "payment", "received_at"}, name
        Payment.model_validate(event["payment"])


def test_settlement_sample_matches_the_settle_task_payload(events_dir: Path, asl: dict[str, Any]) -> None:
    """Given the settle sample, its keys are the ones the Settle task's Payload sends."""
    event = _event(events_dir, "settlement_settle_input.json")
    payload = asl["States"]["Settle"]["Parameters"]["Payload"]

    assert set(event) == {key.removesuffix(".$") for key in payload}
    assert event["action"] == "settle"
    assert set(event["checks"]) == {"validation", "fraud"}


@pytest.mark.parametrize(
    ("name", "payment_of"),
    [
        ("api_post_payment.json", lambda event: json.loads(event["body"])),
        ("sqs_payment_batch.json", lambda event: json.loads(event["Records"][0]["body"])["payment"]),
        ("validation_input.json", lambda event: event["payment"]),
        ("workflow_input.json", lambda event: event["payment"]),
        ("settlement_settle_input.json", lambda event: event["payment"]),
    ],
)
def test_sample_events_carry_the_contracts_example_payment(
    events_dir: Path, name: str, payment_of: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    """Given a sample event with one payment, it is the example payment; metadata tells samples apart."""
    payment = payment_of(_event(events_dir, name))

    assert {**payment, "metadata": {}} == {**example_payment(), "metadata": {}}


def test_readme_shows_the_contracts_example_payment() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("A payment body:\n\n```json\n", 1)[1].split("```", 1)[0]

    assert json.loads(block) == example_payment()
