"""Least privilege: each role names only its own resources and the actions its code uses."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

Statements = Callable[[str], list[dict[str, Any]]]

# A step appends its row; only the counters function updates (the counters, from the stream).
AUDIT_WRITES = {("dynamodb:PutItem", "AuditTable")}

# (action, resource) pairs each role may hold; a resource is a logical id, or "<id>/<suffix>" for an
# index or object prefix of it.
EXPECTED_GRANTS: dict[str, set[tuple[str, str]]] = {
    "IngestApiFunction": {
        ("dynamodb:GetItem", "IdempotencyTable"),
        ("dynamodb:PutItem", "IdempotencyTable"),
        ("dynamodb:UpdateItem", "IdempotencyTable"),
        ("dynamodb:DeleteItem", "IdempotencyTable"),
        ("dynamodb:GetItem", "TransactionsTable"),
        ("dynamodb:BatchGetItem", "TransactionsTable"),
        ("dynamodb:Query", "AuditTable"),
        ("dynamodb:Query", "AuditTable/index/by_day_shard"),
        ("sqs:SendMessage", "PaymentsQueue"),
    },
    "IngestConsumerFunction": {
        ("dynamodb:GetItem", "TransactionsTable"),
        ("dynamodb:PutItem", "TransactionsTable"),
        ("dynamodb:UpdateItem", "TransactionsTable"),
        ("states:StartSyncExecution", "PaymentsStateMachine"),
        *AUDIT_WRITES,
    },
    # The checks write nothing: their results reach the item with the final status.
    "ValidationFunction": set(),
    "FraudFunction": {("dynamodb:Query", "TransactionsTable/index/by_customer")},
    # One UpdateItem: settle reads nothing, a refused guard returns the item, and the settlement
    # record, the archive and the audit rows follow from the stream.
    "SettlementFunction": {("dynamodb:UpdateItem", "TransactionsTable")},
    "ArchiveFunction": {
        ("dynamodb:BatchWriteItem", "SettlementsTable"),
        ("s3:PutObject", "ArchiveBucket/archive/*"),
        ("s3:GetObject", "ArchiveBucket/archive/*"),
        ("dynamodb:GetItem", "AuditTable"),
        ("dynamodb:UpdateItem", "AuditTable"),
    },
    "AuditTrailFunction": {("dynamodb:BatchWriteItem", "AuditTable")},
    "AuditCountersFunction": {("dynamodb:GetItem", "AuditTable"), ("dynamodb:UpdateItem", "AuditTable")},
}
# The stream functions' UpdateItem on the audit table, by the partitions it is limited to.
MARK_WRITERS = {"AuditCountersFunction": ["counter#*"], "ArchiveFunction": ["counter#hwm"]}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resource_name(resource: Any) -> str:
    """Reduce a policy Resource to '<LogicalId>' or '<LogicalId>/<suffix>'."""
    if resource == "*":
        return "*"
    if "Fn::GetAtt" in resource:
        return resource["Fn::GetAtt"][0]
    if "Ref" in resource:
        return resource["Ref"]
    text = resource["Fn::Sub"]
    prefix, _, suffix = text.partition(".Arn}")
    return prefix.removeprefix("${") + suffix


def _grants(statements: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {
        (action, _resource_name(resource))
        for statement in statements
        for action in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    }


@pytest.mark.parametrize("logical_id", sorted(EXPECTED_GRANTS))
def test_function_role_grants_only_its_own_resources_and_actions(
    logical_id: str, role_statements: Statements
) -> None:
    """Given a function role, its inline grants are exactly what its code needs, on its own resources."""
    assert _grants(role_statements(logical_id)) == EXPECTED_GRANTS[logical_id]


def test_no_allow_statement_grants_every_action_or_a_whole_service(
    policy_statements: list[tuple[str, dict[str, Any]]],
) -> None:
    """Given every Allow in the stack, none uses '*' or 'service:*' as an action.

    Deny statements are exempt: the TLS-only bucket and queue policies must deny every action.
    """
    wildcard = [
        (owner, action)
        for owner, statement in policy_statements
        if statement["Effect"] == "Allow"
        for action in _as_list(statement.get("Action", []))
        if action == "*" or action.endswith(":*")
    ]

    assert wildcard == []


def test_wildcard_resource_only_where_aws_offers_no_resource_level_permission(
    policy_statements: list[tuple[str, dict[str, Any]]],
) -> None:
    """Given every Allow on Resource '*', it is only the Logs delivery set Express logging needs."""
    log_delivery = {
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
    star = [
        (owner, set(_as_list(statement["Action"])))
        for owner, statement in policy_statements
        if statement["Effect"] == "Allow" and "*" in _as_list(statement.get("Resource", []))
    ]

    assert star == [("PaymentsStateMachineRole", log_delivery)]


def test_no_put_object_acl_permission_anywhere(template: dict[str, Any], translated: dict[str, Any]) -> None:
    """Given BucketOwnerEnforced, ACL writes are useless and an escalation path: nothing grants them."""
    assert "putobjectacl" not in json.dumps(template).lower()
    assert "putobjectacl" not in json.dumps(translated).lower()


def test_the_archive_is_written_with_put_object_alone_no_acl_permission(
    role_statements: Statements, resources: dict[str, Any]
) -> None:
    """Given the archive write, PutObject on archive/* is granted and sufficient because ACLs are disabled."""
    grants = _grants(role_statements("ArchiveFunction"))
    ownership = resources["ArchiveBucket"]["Properties"]["OwnershipControls"]["Rules"]

    assert ("s3:PutObject", "ArchiveBucket/archive/*") in grants
    assert {action for action, _ in grants if action.startswith("s3:")} <= {"s3:PutObject", "s3:GetObject"}
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_audit_rows_cannot_be_deleted_or_rewritten(
    role_statements: Statements, resources: dict[str, Any]
) -> None:
    """Given the append-only audit table, no role deletes from it and UpdateItem reaches only counters.

    The table's resource policy backs this up for every principal, administrators included.
    """
    for logical_id in EXPECTED_GRANTS:
        for statement in role_statements(logical_id):
            if "AuditTable" not in {_resource_name(res) for res in _as_list(statement["Resource"])}:
                continue
            actions = set(_as_list(statement["Action"]))
            assert "dynamodb:DeleteItem" not in actions, logical_id
            if "dynamodb:UpdateItem" in actions:
                assert logical_id in MARK_WRITERS
                assert actions == {"dynamodb:GetItem", "dynamodb:UpdateItem"}, logical_id
                leading = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
                assert leading == MARK_WRITERS[logical_id], logical_id

    denies = resources["AuditTable"]["Properties"]["ResourcePolicy"]["PolicyDocument"]["Statement"]
    denied = {statement["Action"]: statement for statement in denies if statement["Effect"] == "Deny"}
    assert "dynamodb:DeleteItem" in denied
    update_guard = denied["dynamodb:UpdateItem"]["Condition"]["ForAnyValue:StringNotLike"]
    assert update_guard == {"dynamodb:LeadingKeys": ["counter#*"]}


def test_state_machine_invokes_only_the_three_step_functions(translated: dict[str, Any]) -> None:
    """Given the workflow role, it may invoke validation, fraud and settlement and nothing else."""
    role = translated["Resources"]["PaymentsStateMachineRole"]["Properties"]
    invoked = {
        resource["Fn::Sub"][1]["functionName"]["Ref"]
        for policy in role["Policies"]
        for statement in _as_list(policy["PolicyDocument"]["Statement"])
        if "lambda:InvokeFunction" in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    }

    assert invoked == {"ValidationFunction", "FraudFunction", "SettlementFunction"}


def test_only_the_consumer_starts_the_workflow(translated: dict[str, Any]) -> None:
    """Given every role, states:StartSyncExecution belongs to the consumer alone."""
    starters = {
        lid
        for lid, res in translated["Resources"].items()
        if res["Type"] == "AWS::IAM::Role"
        for policy in res["Properties"].get("Policies", [])
        for statement in _as_list(policy["PolicyDocument"]["Statement"])
        if any(action.startswith("states:Start") for action in _as_list(statement["Action"]))
    }

    assert starters == {"IngestConsumerFunctionRole"}


def test_roles_attach_only_the_baseline_managed_policies(translated: dict[str, Any]) -> None:
    """Given the generated roles, AWS managed policies are limited to logs, X-Ray and the two pollers'.

    A broad managed policy (e.g. AmazonDynamoDBFullAccess) would bypass every inline grant checked above.
    """
    basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    xray = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"
    sqs_poller = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
    expected = {f"{lid}Role": {basic, xray} for lid in EXPECTED_GRANTS}
    expected["IngestConsumerFunctionRole"] = {basic, xray, sqs_poller}
    stream_poller = "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"
    expected["AuditCountersFunctionRole"] = {basic, xray, stream_poller}
    expected["ArchiveFunctionRole"] = {basic, xray, stream_poller}
    expected["AuditTrailFunctionRole"] = {basic, xray, stream_poller}
    expected["PaymentsStateMachineRole"] = {xray}
    attached = {
        lid: {_resolved_arn(arn) for arn in res["Properties"].get("ManagedPolicyArns", [])}
        for lid, res in translated["Resources"].items()
        if res["Type"] == "AWS::IAM::Role" and "Condition" not in res
    }

    assert attached == expected


def _resolved_arn(arn: Any) -> str:
    if isinstance(arn, str):
        return arn
    return arn["Fn::Sub"].replace("${AWS::Partition}", "aws")
