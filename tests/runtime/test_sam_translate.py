"""Shim 1: SAM is translated offline and local code/definition URIs become S3 objects / inline text."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import boto3
import pytest

from payctl.runtime.cfn_yaml import load_template
from payctl.runtime.sam_translate import (
    ArtifactStager,
    UnknownManagedPolicy,
    stage_local_artifacts,
    translate,
)

FIXTURE_TEMPLATE = Path(__file__).resolve().parent / "fixtures" / "template.yaml"


def test_loader_expands_short_tags_and_keeps_the_format_version_a_string(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(
        "AWSTemplateFormatVersion: 2010-09-09\n"
        "Resources:\n"
        "  Q:\n"
        "    Type: AWS::SQS::Queue\n"
        "    Properties:\n"
        "      QueueName: !Sub '${AWS::StackName}-q'\n"
        "      Tags: [{Key: arn, Value: !GetAtt Other.Arn}, {Key: ref, Value: !Ref Other}]\n"
    )

    template = load_template(path)

    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    props = template["Resources"]["Q"]["Properties"]
    assert props["QueueName"] == {"Fn::Sub": "${AWS::StackName}-q"}
    assert props["Tags"][0]["Value"] == {"Fn::GetAtt": ["Other", "Arn"]}
    assert props["Tags"][1]["Value"] == {"Ref": "Other"}


def test_deployed_function_code_is_a_zip_of_the_code_uri_directory(fixture_stack):
    lambda_client = boto3.client("lambda", region_name=fixture_stack.region)
    echo = fixture_stack.functions["EchoFunction"]

    location = lambda_client.get_function(FunctionName=echo.name)["Code"]["Location"]
    key = location.split(".amazonaws.com/", 1)[1]
    bucket = next(b for b, k in _staged_keys() if k == key)
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()

    names = zipfile.ZipFile(io.BytesIO(body)).namelist()
    assert "fixture_echo/handler.py" in names
    assert not any("__pycache__" in name for name in names)
    assert echo.code_dir == FIXTURE_TEMPLATE.parent / "functions" / "echo"


def _staged_keys():
    s3 = boto3.client("s3")
    for bucket in s3.list_buckets()["Buckets"]:
        for item in s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", []):
            yield bucket["Name"], item["Key"]


def test_translated_template_has_no_transform_and_an_inline_definition(fixture_stack):
    template = fixture_stack.template

    assert "Transform" not in template
    machine = template["Resources"]["FixtureStateMachine"]["Properties"]
    assert "DefinitionString" in machine
    assert "DefinitionS3Location" not in machine
    assert machine["StateMachineType"] == "EXPRESS"


def test_unknown_managed_policy_fails_translation(moto_env):
    template = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": "s3://bucket/code.zip",
                    "Handler": "app.handler",
                    "Runtime": "python3.12",
                    "Policies": ["AWSXrayWriteOnlyAccess", "NoSuchManagedPolicyAnywhere"],
                },
            }
        },
    }

    with pytest.raises(UnknownManagedPolicy, match="NoSuchManagedPolicyAnywhere"):
        translate(template, {}, moto_env.region)


def test_missing_code_directory_fails_staging(moto_env):
    template = load_template(FIXTURE_TEMPLATE)
    template["Resources"]["EchoFunction"]["Properties"]["CodeUri"] = "functions/does-not-exist/"
    stager = ArtifactStager("payctl-test-staging", moto_env.region)

    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        stage_local_artifacts(template, FIXTURE_TEMPLATE.parent, stager)
