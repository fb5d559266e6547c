"""Shim 2: layer references resolve and functions import their layer's packages."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import boto3

LAYER_ARN = re.compile(r"^arn:aws:lambda:us-east-1:\d{12}:layer:fixture-core:\d+$")


def test_ref_of_a_layer_is_its_layer_version_arn(fixture_stack):
    assert LAYER_ARN.match(fixture_stack.outputs["FixtureLayerArn"])
    assert fixture_stack.resources["FixtureLayer"] == fixture_stack.outputs["FixtureLayerArn"]


def test_functions_are_configured_with_layers_architecture_and_tracing(fixture_stack):
    lambda_client = boto3.client("lambda", region_name=fixture_stack.region)

    config = lambda_client.get_function_configuration(
        FunctionName=fixture_stack.functions["EchoFunction"].name
    )

    assert [layer["Arn"] for layer in config["Layers"]] == [fixture_stack.outputs["FixtureLayerArn"]]
    assert config["Architectures"] == ["arm64"]
    assert config["TracingConfig"] == {"Mode": "Active"}


def test_handler_imports_the_layer_package_from_the_layer_content_directory(fixture_stack):
    result = fixture_stack.invoke("EchoFunction", {"name": "ada"})

    assert result["greeting"] == "hello, ada"
    layer_dir = fixture_stack.functions["EchoFunction"].layer_dirs[0]
    assert layer_dir in Path(sys.modules["fixture_core"].__file__).resolve().parents
