"""Physical names: two stacks in one account must never collide."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

# Properties that set a physical name CloudFormation would otherwise generate.
NAME_PROPERTIES = {
    "AlarmName",
    "BucketName",
    "DashboardName",
    "LayerName",
    "LogGroupName",
    "Name",
    "QueueName",
    "TableName",
    "TopicName",
}


def _physical_names(resources: dict[str, Any], resolver: Any) -> dict[str, str]:
    names = {}
    for logical_id, resource in resources.items():
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        props = resource.get("Properties", {})
        for prop in NAME_PROPERTIES & set(props):
            names[f"{logical_id}.{prop}"] = resolver.resolve(props[prop])
        usage_plan = props.get("Auth", {}).get("UsagePlan", {})
        if "UsagePlanName" in usage_plan:
            names[f"{logical_id}.UsagePlanName"] = resolver.resolve(usage_plan["UsagePlanName"])
    return names


def test_two_stacks_with_different_suffix_get_distinct_names(
    resources: dict[str, Any], make_resolver: Callable[..., Any]
) -> None:
    """Given two dev stacks differing only in EnvironmentSuffix, no physical name is shared between them."""
    first = _physical_names(resources, make_resolver(Environment="dev", EnvironmentSuffix="alice"))
    second = _physical_names(resources, make_resolver(Environment="dev", EnvironmentSuffix="bob"))

    assert set(first) == set(second)
    assert {"ArchiveBucket.BucketName", "TransactionsTable.TableName", "PaymentsQueue.QueueName"} <= set(
        first
    )
    assert set(first.values()).isdisjoint(second.values())


def test_two_environments_with_the_same_suffix_get_distinct_names(
    resources: dict[str, Any], make_resolver: Callable[..., Any]
) -> None:
    """Given dev and prod sharing an account and suffix, their names still differ."""
    dev = _physical_names(resources, make_resolver(Environment="dev", EnvironmentSuffix="main"))
    prod = _physical_names(resources, make_resolver(Environment="prod", EnvironmentSuffix="main"))

    assert set(dev.values()).isdisjoint(prod.values())


def test_every_physical_name_carries_environment_and_suffix(
    resources: dict[str, Any], make_resolver: Callable[..., Any]
) -> None:
    """Given a named resource, its name embeds both the environment and the suffix."""
    names = _physical_names(resources, make_resolver(Environment="staging", EnvironmentSuffix="zz9"))

    missing = {key: name for key, name in names.items() if "staging" not in name or "zz9" not in name}
    assert missing == {}


def test_names_within_one_stack_are_unique(resources: dict[str, Any], resolver: Any) -> None:
    """Given one stack, no two resources of a kind share a name (e.g. two log groups)."""
    names = _physical_names(resources, resolver)
    by_kind: dict[str, list[str]] = {}
    for key, name in names.items():
        by_kind.setdefault(key.split(".")[1], []).append(name)

    assert {kind: len(set(values)) for kind, values in by_kind.items()} == {
        kind: len(values) for kind, values in by_kind.items()
    }


@pytest.mark.parametrize("region", ["us-east-1", "ap-southeast-2", "us-gov-west-1"])
def test_bucket_name_fits_s3_limits_for_the_longest_inputs(
    region: str, resources: dict[str, Any], make_resolver: Callable[..., Any], template: dict[str, Any]
) -> None:
    """Given the longest allowed environment and suffix, the bucket name is valid in any region (<= 63)."""
    longest_suffix = "a" * template["Parameters"]["EnvironmentSuffix"]["MaxLength"]
    resolver = make_resolver(Environment="staging", EnvironmentSuffix=longest_suffix)
    name = resolver.resolve(resources["ArchiveBucket"]["Properties"]["BucketName"]).replace(
        "us-east-1", region
    )

    assert len(name) <= 63
    assert name == name.lower()


def test_bucket_name_includes_account_and_region(resources: dict[str, Any]) -> None:
    """Given a global S3 namespace, the bucket name carries the account id and region."""
    name = resources["ArchiveBucket"]["Properties"]["BucketName"]["Fn::Sub"]

    assert "${AWS::AccountId}" in name
    assert "${AWS::Region}" in name
