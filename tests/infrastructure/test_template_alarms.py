"""Alarms notify someone, and the dashboard body is valid JSON once CloudFormation substitutes it."""

from __future__ import annotations

import json
from typing import Any

import pytest


@pytest.fixture(scope="module")
def alarms(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        lid: res["Properties"] for lid, res in resources.items() if res["Type"] == "AWS::CloudWatch::Alarm"
    }


def _watched(alarms: dict[str, dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(namespace, metric, watched resource) for every alarm."""
    watched = set()
    for props in alarms.values():
        dimension = props["Dimensions"][0]["Value"]
        target = next(iter(dimension.values()))
        target = target[0] if isinstance(target, list) else target
        watched.add((props["Namespace"], props["MetricName"], str(target)))
    return watched


def test_alarms_cover_dlq_queue_age_workflow_functions_and_api(alarms: dict[str, dict[str, Any]]) -> None:
    """Given the failure modes operators must hear about, each has an alarm on the right resource."""
    watched = _watched(alarms)

    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "PaymentsDLQ") in watched
    assert ("AWS/SQS", "ApproximateAgeOfOldestMessage", "PaymentsDLQ") in watched
    assert ("AWS/SQS", "ApproximateAgeOfOldestMessage", "PaymentsQueue") in watched
    assert ("AWS/States", "ExecutionsFailed", "PaymentsStateMachine") in watched
    for function in (
        "IngestApiFunction",
        "IngestConsumerFunction",
        "ValidationFunction",
        "FraudFunction",
        "SettlementFunction",
    ):
        assert ("AWS/Lambda", "Errors", function) in watched
    assert any(namespace == "AWS/ApiGateway" and metric == "5XXError" for namespace, metric, _ in watched)


@pytest.mark.parametrize("function", ["AuditCountersFunction", "ArchiveFunction"])
def test_a_stream_function_falling_behind_raises_an_alarm(
    alarms: dict[str, dict[str, Any]], function: str
) -> None:
    """Given unlimited retries on the stream, a failing batch blocks its shard: its errors and the
    iterator's age (under the stream's 24 h retention) alarm."""
    watched = _watched(alarms)
    [age] = [
        props
        for props in alarms.values()
        if props["MetricName"] == "IteratorAge" and props["Dimensions"][0]["Value"] == {"Ref": function}
    ]

    assert ("AWS/Lambda", "Errors", function) in watched
    assert ("AWS/Lambda", "IteratorAge", function) in watched
    assert age["Statistic"] == "Maximum" and age["Threshold"] < 24 * 3600 * 1000


def test_a_single_dead_lettered_payment_raises_the_alarm(alarms: dict[str, dict[str, Any]]) -> None:
    """Given one message in the DLQ, the depth alarm fires (>= 1 over one period)."""
    [depth] = [
        props
        for props in alarms.values()
        if props["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and props["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["PaymentsDLQ", "QueueName"]}
    ]

    assert depth["Threshold"] == 1
    assert depth["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert depth["EvaluationPeriods"] == 1


def test_every_alarm_notifies_the_alarm_topic(alarms: dict[str, dict[str, Any]]) -> None:
    """Given any alarm, it notifies AlarmTopic; silence between scrapes is not an outage."""
    assert alarms
    for name, props in alarms.items():
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert props["TreatMissingData"] == "notBreaching", name


def test_alarm_topic_is_encrypted(resources: dict[str, Any]) -> None:
    """Given alarm messages naming payment resources, the topic is KMS-encrypted."""
    assert resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == "alias/aws/sns"


def test_api_5xx_alarm_watches_the_deployed_api_and_stage(resources: dict[str, Any], resolver: Any) -> None:
    """Given the API's metrics are keyed by its name and stage, the alarm uses exactly those."""
    [alarm] = [
        res["Properties"]
        for res in resources.values()
        if res["Type"] == "AWS::CloudWatch::Alarm" and res["Properties"]["MetricName"] == "5XXError"
    ]
    dimensions = {d["Name"]: resolver.resolve(d["Value"]) for d in alarm["Dimensions"]}

    assert dimensions == {
        "ApiName": resolver.resolve(resources["PaymentsApi"]["Properties"]["Name"]),
        "Stage": resources["PaymentsApi"]["Properties"]["StageName"],
    }


def test_dashboard_body_is_valid_json_after_substitution(resources: dict[str, Any], resolver: Any) -> None:
    """Given the dashboard's Fn::Sub body, the substituted text parses and every widget has metrics."""
    body = json.loads(resolver.resolve(resources["PaymentsDashboard"]["Properties"]["DashboardBody"]))

    assert body["widgets"]
    assert all(widget["properties"]["metrics"] for widget in body["widgets"])
    assert all(widget["properties"]["region"] == "us-east-1" for widget in body["widgets"])


def test_alarm_email_subscribes_to_the_topic_only_when_given(template: dict[str, Any]) -> None:
    """Given AlarmEmail, an e-mail subscription to the alarms' topic exists; empty (the default) none."""
    parameter = template["Parameters"]["AlarmEmail"]
    subscription = template["Resources"]["AlarmEmailSubscription"]

    assert parameter["Default"] == ""
    assert subscription["Condition"] == "AlarmEmailGiven"
    assert template["Conditions"]["AlarmEmailGiven"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]
    }
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }
    assert template["Outputs"]["AlarmTopicArn"]["Value"] == {"Ref": "AlarmTopic"}


def test_every_alarm_notifies_the_topic_operators_subscribe_to(alarms: dict[str, dict[str, Any]]) -> None:
    for props in alarms.values():
        assert {"Ref": "AlarmTopic"} in props["AlarmActions"]


def test_the_dashboard_searches_the_stacks_own_metrics_namespace(resources: dict[str, Any]) -> None:
    (dashboard,) = [r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]

    assert "SEARCH('{Payments/${Environment}-${EnvironmentSuffix},service}'" in body
