"""DynamoDB tables and the S3 archive bucket."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

TABLES = ["TransactionsTable", "SettlementsTable", "AuditTable", "IdempotencyTable"]


def _keys(key_schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(key["AttributeName"], key["KeyType"]) for key in key_schema]


def _indexes(props: dict[str, Any]) -> dict[str, tuple[list[tuple[str, str]], str]]:
    return {
        index["IndexName"]: (_keys(index["KeySchema"]), index["Projection"]["ProjectionType"])
        for index in props.get("GlobalSecondaryIndexes", [])
    }


@pytest.mark.parametrize("logical_id", TABLES)
def test_table_is_on_demand_with_point_in_time_recovery_and_encryption(
    logical_id: str, resources: dict[str, Any]
) -> None:
    """Given a payments table, it bills on demand, can be restored to any second and is KMS-encrypted."""
    props = resources[logical_id]["Properties"]

    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True


@pytest.mark.parametrize("logical_id", TABLES)
@pytest.mark.parametrize(("value", "expected"), [("true", True), ("false", False)])
def test_table_deletion_protection_follows_the_parameter(
    logical_id: str, value: str, expected: bool, resources: dict[str, Any], make_resolver: Callable[..., Any]
) -> None:
    """Given DeletionProtection, every table is protected exactly when the parameter says so."""
    resolver = make_resolver(DeletionProtection=value)

    assert resolver.resolve(resources[logical_id]["Properties"]["DeletionProtectionEnabled"]) is expected


def test_transactions_table_keys_and_indexes_match_the_contract(resources: dict[str, Any]) -> None:
    """Given fraud velocity as the only index reader, there is by_customer (KEYS_ONLY) and nothing else."""
    props = resources["TransactionsTable"]["Properties"]

    assert _keys(props["KeySchema"]) == [("transaction_id", "HASH")]
    assert _indexes(props) == {
        "by_customer": ([("customer_id", "HASH"), ("created_at", "RANGE")], "KEYS_ONLY"),
    }


def test_audit_table_is_sharded_by_day_for_time_range_reads(resources: dict[str, Any]) -> None:
    """Given dashboards reading a time range, by_day_shard spreads a day's writes over shard partitions."""
    props = resources["AuditTable"]["Properties"]

    assert _keys(props["KeySchema"]) == [("pk", "HASH"), ("sk", "RANGE")]
    assert _indexes(props) == {"by_day_shard": ([("gsi1pk", "HASH"), ("gsi1sk", "RANGE")], "ALL")}


def test_settlement_and_idempotency_keys_match_the_contract(resources: dict[str, Any]) -> None:
    """Given the settlement record and Powertools idempotency defaults, the keys are transaction_id and id."""
    settlements = resources["SettlementsTable"]["Properties"]
    idempotency = resources["IdempotencyTable"]["Properties"]

    assert _keys(settlements["KeySchema"]) == [("transaction_id", "HASH")]
    assert _keys(idempotency["KeySchema"]) == [("id", "HASH")]


def test_idempotency_records_expire_by_ttl(resources: dict[str, Any]) -> None:
    """Given Powertools' expiry attribute, DynamoDB TTL removes stale idempotency records."""
    ttl = resources["IdempotencyTable"]["Properties"]["TimeToLiveSpecification"]

    assert ttl == {"AttributeName": "expiration", "Enabled": True}


def test_archive_bucket_is_versioned_encrypted_private_and_acl_free(resources: dict[str, Any]) -> None:
    """Given archived payments, the bucket keeps versions, encrypts, blocks public access, disables ACLs."""
    props = resources["ArchiveBucket"]["Properties"]
    [encryption] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]

    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


def test_archive_lifecycle_tiers_objects_and_expires_old_versions(resources: dict[str, Any]) -> None:
    """Given a growing archive, objects move to cheaper storage and superseded versions expire."""
    rules = resources["ArchiveBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    [tiering] = [rule for rule in rules if rule.get("Transitions")]
    tiers = {
        transition["StorageClass"]: transition["TransitionInDays"] for transition in tiering["Transitions"]
    }

    assert tiering["Status"] == "Enabled"
    assert tiering["Prefix"] == "archive/"
    assert tiers == {"STANDARD_IA": 30, "GLACIER_IR": 90}
    assert tiering["NoncurrentVersionExpiration"]["NoncurrentDays"] > 0


def test_archive_bucket_policy_refuses_requests_without_tls(resources: dict[str, Any]) -> None:
    """Given the bucket policy, plain-HTTP requests to the bucket or any object are denied."""
    policy = resources["ArchiveBucketPolicy"]["Properties"]
    statements = policy["PolicyDocument"]["Statement"]
    [tls_only] = [s for s in statements if s["Condition"].get("Bool") == {"aws:SecureTransport": "false"}]

    assert policy["Bucket"] == {"Ref": "ArchiveBucket"}
    assert tls_only["Effect"] == "Deny"
    assert tls_only["Principal"] == "*"
    assert tls_only["Resource"] == [
        {"Fn::GetAtt": ["ArchiveBucket", "Arn"]},
        {"Fn::Sub": "${ArchiveBucket.Arn}/*"},
    ]
