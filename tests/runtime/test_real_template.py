"""The repository's template.yaml deploys into the local runtime with everything the contract names."""

from __future__ import annotations

import boto3

CONTRACT_OUTPUTS = {
    "ApiUrl", "ApiKeyId", "PaymentsQueueUrl", "PaymentsQueueArn", "PaymentsDLQUrl", "PaymentsDLQArn",
    "TransactionsTableName", "SettlementsTableName", "AuditTableName", "IdempotencyTableName",
    "ArchiveBucketName", "StateMachineArn", "IngestApiFunctionName", "IngestConsumerFunctionName",
    "ValidationFunctionName", "FraudFunctionName", "SettlementFunctionName",
}  # fmt: skip
CONTRACT_FUNCTIONS = {
    "IngestApiFunction",
    "IngestConsumerFunction",
    "ValidationFunction",
    "FraudFunction",
    "SettlementFunction",
}


def test_every_contract_output_is_present_and_resolved(stack):
    missing = CONTRACT_OUTPUTS - set(stack.outputs)

    assert not missing
    assert all(value and "object at 0x" not in value for value in stack.outputs.values())


def test_every_function_has_local_code_and_the_shared_layer(stack):
    assert set(stack.functions) >= CONTRACT_FUNCTIONS
    for logical_id in CONTRACT_FUNCTIONS:
        info = stack.functions[logical_id]
        assert info.code_dir is not None and info.code_dir.is_dir(), logical_id
        assert [layer.name for layer in info.layer_dirs] == ["shared"], logical_id
        assert stack.outputs[f"{logical_id}Name"] == info.name


def test_the_workflow_is_an_express_machine_calling_the_deployed_functions(stack):
    sfn = boto3.client("stepfunctions", region_name=stack.region)

    described = sfn.describe_state_machine(stateMachineArn=stack.outputs["StateMachineArn"])

    assert described["type"] == "EXPRESS"
    assert "${" not in described["definition"]
    for logical_id in ("ValidationFunction", "FraudFunction", "SettlementFunction"):
        assert stack.functions[logical_id].arn in described["definition"]


def test_the_consumer_is_polled_not_triggered(stack):
    (source,) = stack.event_sources["IngestConsumerFunction"]

    assert source.queue_arn == stack.outputs["PaymentsQueueArn"]
    assert source.reports_batch_item_failures
    assert source.batch_size == 10
