"""Lambda functions and the shared layer, checked on what SAM generates so Globals are applied."""

from __future__ import annotations

import json
from typing import Any

import pytest

FUNCTIONS = {
    "IngestApiFunction": ("services/ingest/", "ingest_svc.handlers.api.lambda_handler"),
    "IngestConsumerFunction": ("services/ingest/", "ingest_svc.handlers.consumer.lambda_handler"),
    "ValidationFunction": ("services/validation/", "validation_svc.handler.lambda_handler"),
    "FraudFunction": ("services/fraud/", "fraud_svc.handler.lambda_handler"),
    "SettlementFunction": ("services/settlement/", "settlement_svc.handler.lambda_handler"),
    "AuditCountersFunction": ("services/ingest/", "ingest_svc.handlers.counters.lambda_handler"),
    "ArchiveFunction": ("services/settlement/", "settlement_svc.archiver.lambda_handler"),
    "AuditTrailFunction": ("services/ingest/", "ingest_svc.handlers.audit_trail.lambda_handler"),
}

CONTRACT_ENVIRONMENT = {
    "ENVIRONMENT",
    "TRANSACTIONS_TABLE",
    "SETTLEMENTS_TABLE",
    "AUDIT_TABLE",
    "IDEMPOTENCY_TABLE",
    "ARCHIVE_BUCKET",
    "PAYMENTS_QUEUE_URL",
    "AUDIT_SHARDS",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}


@pytest.fixture(scope="module")
def lambda_functions(translated: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        lid: res["Properties"]
        for lid, res in translated["Resources"].items()
        if res["Type"] == "AWS::Lambda::Function"
    }


def test_stack_has_exactly_the_contract_functions(lambda_functions: dict[str, Any]) -> None:
    """Given the translated stack, it deploys the five contract functions, the counters, the archive,
    and no stray ones."""
    assert set(lambda_functions) == set(FUNCTIONS)


def test_audit_counters_read_the_audit_stream_once_per_shard_and_never_skip_a_batch(
    resources: dict[str, Any],
) -> None:
    """Given counters kept from the stream, one batch per shard runs at a time, retried until it lands,
    and the tumbling window makes Lambda name the shard, whose high-water mark drops redeliveries."""
    table = resources["AuditTable"]["Properties"]
    (event,) = resources["AuditCountersFunction"]["Properties"]["Events"].values()
    source = event["Properties"]

    assert table["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    assert event["Type"] == "DynamoDB"
    assert source["Stream"] == {"Fn::GetAtt": ["AuditTable", "StreamArn"]}
    assert source["StartingPosition"] == "TRIM_HORIZON"
    assert source["MaximumRetryAttempts"] == -1
    assert source["ParallelizationFactor"] == 1
    assert source["TumblingWindowInSeconds"] > 0
    # Its own counter and mark writes are not delivered back to it.
    (pattern,) = source["FilterCriteria"]["Filters"]
    assert json.loads(pattern["Pattern"]) == {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {"action": {"S": [{"exists": True}]}}},
    }


def test_the_archive_reads_only_settled_transactions_once_per_shard_and_never_skips_a_batch(
    resources: dict[str, Any],
) -> None:
    """Given the archive derived from the SETTLED status, the transactions stream is filtered to it,
    one batch per shard runs at a time, and a failed batch is retried until it lands."""
    table = resources["TransactionsTable"]["Properties"]
    (event,) = resources["ArchiveFunction"]["Properties"]["Events"].values()
    source = event["Properties"]

    assert table["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    assert source["Stream"] == {"Fn::GetAtt": ["TransactionsTable", "StreamArn"]}
    (pattern,) = source["FilterCriteria"]["Filters"]
    assert json.loads(pattern["Pattern"]) == {"dynamodb": {"NewImage": {"status": {"S": ["SETTLED"]}}}}
    assert (source["MaximumRetryAttempts"], source["ParallelizationFactor"]) == (-1, 1)
    assert source["TumblingWindowInSeconds"] > 0


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_has_layer_tracing_arm64_and_supported_runtime(
    logical_id: str, lambda_functions: dict[str, Any], translated: dict[str, Any]
) -> None:
    """Given a deployed function, it runs on arm64 python3.12/3.13 with X-Ray active and the shared layer.

    A function without the layer cannot import payments_core; one on x86 would load the layer's arm64 wheels.
    """
    props = lambda_functions[logical_id]
    [layer_ref] = props["Layers"]
    layer = translated["Resources"][layer_ref["Ref"]]

    assert props["Runtime"] in {"python3.12", "python3.13"}
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert layer["Type"] == "AWS::Lambda::LayerVersion"
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert props["Runtime"] in layer["Properties"]["CompatibleRuntimes"]


@pytest.mark.parametrize(("logical_id", "expected"), sorted(FUNCTIONS.items()))
def test_function_code_and_handler_match_the_contract(
    logical_id: str, expected: tuple[str, str], template: dict[str, Any]
) -> None:
    """Given the source template, each function points at its service folder and contract handler."""
    props = template["Resources"][logical_id]["Properties"]

    assert (props["CodeUri"], props["Handler"]) == expected


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_environment_is_the_shared_contract_set(
    logical_id: str, lambda_functions: dict[str, Any]
) -> None:
    """Given one process hosting every handler locally, each variable means the same for every function.

    POWERTOOLS_SERVICE_NAME in particular must not be set: it would differ per function.
    """
    variables = lambda_functions[logical_id]["Environment"]["Variables"]
    own = {
        "IngestConsumerFunction": {"STATE_MACHINE_ARN": {"Ref": "PaymentsStateMachine"}},
        "IngestApiFunction": {
            "DASHBOARD_API_KEY_IDS": {"Ref": "DashboardApiKey"},
            "ALLOWED_ORIGIN": {"Ref": "DashboardOrigin"},
        },
    }.get(logical_id, {})

    assert set(variables) == CONTRACT_ENVIRONMENT | set(own)
    # Each stack's EMF series live in its own namespace, so environments in one account never mix.
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == {
        "Fn::Sub": "Payments/${Environment}-${EnvironmentSuffix}"
    }
    assert variables["AUDIT_SHARDS"] == {"Ref": "AuditShards"}
    assert {name: variables[name] for name in own} == own


def test_layer_is_built_for_arm64_from_shared(resources: dict[str, Any]) -> None:
    """Given the layer, sam build installs shared/ for arm64 python3.12; old versions survive rollbacks."""
    layer = resources["SharedLayer"]

    assert layer["Properties"]["ContentUri"] == "shared/"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Metadata"] == {"BuildMethod": "python3.12", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["RetentionPolicy"] == "Retain"


def test_consumer_reports_partial_batch_failures_with_bounded_concurrency(translated: dict[str, Any]) -> None:
    """Given the SQS trigger, a failed record is retried alone and the consumer cannot flood downstream."""
    mapping = translated["Resources"]["IngestConsumerFunctionPayments"]["Properties"]

    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["PaymentsQueue", "Arn"]}
    assert mapping["BatchSize"] == 10
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["MaximumBatchingWindowInSeconds"] == {"Ref": "BatchingWindowSeconds"}
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "ConsumerMaxConcurrency"}}


def test_consumer_timeout_comes_from_its_parameter(lambda_functions: dict[str, Any]) -> None:
    """Given the consumer, its timeout is the parameter the queue visibility is sized against."""
    assert lambda_functions["IngestConsumerFunction"]["Timeout"] == {"Ref": "ConsumerTimeoutSeconds"}


def test_api_function_finishes_before_api_gateway_gives_up(lambda_functions: dict[str, Any]) -> None:
    """Given API Gateway's 29 s integration timeout, the ingest API function times out first."""
    assert lambda_functions["IngestApiFunction"]["Timeout"] < 29


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_logs_to_its_own_retained_log_group(
    logical_id: str, lambda_functions: dict[str, Any], resources: dict[str, Any]
) -> None:
    """Given a function, it logs to a stack-owned log group with retention instead of a never-expiring one."""
    log_group_id = lambda_functions[logical_id]["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = resources[log_group_id]

    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
