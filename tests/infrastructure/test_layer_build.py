"""`make build`: the shared layer as Lambda needs it on arm64 (installs from PyPI, so it is slow-ish)."""

from pathlib import Path

import pytest

from payctl.devtools import build
from payctl.runtime.cfn_yaml import load_template

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def layer(tmp_path_factory):
    version = build.runtime_python(load_template(ROOT / "template.yaml"))
    out = tmp_path_factory.mktemp("build")
    return build.build_layer(
        out, ROOT / "shared", version, build.find_interpreter(version)
    ) / "python", version


def test_layer_ships_xray_sdk_powertools_pydantic_and_our_package(layer):
    site, _ = layer
    for package in ("aws_xray_sdk", "aws_lambda_powertools", "pydantic", "pydantic_core", "payments_core"):
        assert (site / package).is_dir(), package


def test_layer_binaries_are_for_arm64_and_the_runtime_python(layer):
    site, version = layer
    tag = version.replace(".", "")
    binaries = list((site / "pydantic_core").glob("*.so"))
    assert binaries
    assert all(f"cpython-{tag}-aarch64-linux-gnu" in b.name for b in binaries)


def test_layer_leaves_boto3_and_botocore_to_the_runtime(layer):
    site, _ = layer
    assert not any((site / name).exists() for name in ("boto3", "botocore", "s3transfer"))


def test_layer_modules_are_precompiled_without_source_checks(layer):
    """Lambda mounts layers read-only: without .pyc files every cold start recompiles the layer."""
    site, version = layer
    tag = version.replace(".", "")
    compiled = site / "payments_core" / "__pycache__" / f"money.cpython-{tag}.pyc"
    flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
    assert flags == 0b01, "hash-based .pyc without source check (unchecked-hash)"
