"""Shim 1 — SAM translation offline, with local CodeUri/ContentUri/DefinitionUri.

Gap (moto 5.2.5): moto's CloudFormation does not run the ``AWS::Serverless-2016-10-31`` transform,
and even a translated template still names local directories that only ``sam package`` would have
uploaded. aws-sam-translator needs a region and, for managed policy names it does not bundle, an
IAM lookup. This module stages local code as zip objects in a moto bucket, inlines state machine
definitions, and runs the translator with a static managed-policy map that fails on unknown names.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml

# Managed policies the templates may name that are not in the translator's bundled map. The
# translator only asks for names it cannot resolve itself, so this map is a fallback.
STATIC_MANAGED_POLICIES: dict[str, str] = {
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSLambdaSQSQueueExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
    "AWSLambdaRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaRole",
    "CloudWatchLambdaInsightsExecutionRolePolicy": (
        "arn:aws:iam::aws:policy/CloudWatchLambdaInsightsExecutionRolePolicy"
    ),
}

_EXCLUDED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".aws-sam"}
_EXCLUDED_SUFFIXES = {".pyc", ".pyo"}
# Fixed timestamp so the same sources always give the same zip (and the same S3 key).
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class UnknownManagedPolicy(KeyError):
    """The template names a managed policy the offline translator has no ARN for."""


class _StrictPolicyMap(dict[str, str]):
    def get(self, key: str, default: Any = None) -> Any:
        if key not in self:
            raise UnknownManagedPolicy(
                f"managed policy {key!r} is not in the offline policy map; add its ARN to "
                "payctl.runtime.sam_translate.STATIC_MANAGED_POLICIES"
            )
        return super().get(key)


@dataclass(frozen=True)
class StagedArtifact:
    """A local directory uploaded as a zip object, remembered so handlers can be loaded from source."""

    logical_id: str
    local_dir: Path
    bucket: str
    key: str


@dataclass
class StagedTemplate:
    template: dict[str, Any]
    artifacts: dict[tuple[str, str], StagedArtifact] = field(default_factory=dict)


def _is_local_uri(value: Any) -> bool:
    return isinstance(value, str) and not value.startswith("s3://")


def _iter_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in _EXCLUDED_DIRS for part in relative.parts):
            continue
        if path.is_file() and path.suffix not in _EXCLUDED_SUFFIXES:
            yield path


def zip_directory(root: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in _iter_files(root):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _resolve_dir(base_dir: Path, uri: str, logical_id: str, prop: str) -> Path:
    local = (base_dir / uri).resolve()
    if not local.is_dir():
        raise FileNotFoundError(f"{logical_id}.{prop} points to {uri!r}, which is not a directory")
    return local


def _load_definition(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    return yaml.safe_load(text)


class ArtifactStager:
    """Uploads local directories to a staging bucket in the active (moto) account."""

    def __init__(self, bucket: str, region: str) -> None:
        self.bucket = bucket
        self._s3 = boto3.client("s3", region_name=region)
        self._bucket_ready = False

    def upload_dir(self, logical_id: str, local_dir: Path) -> StagedArtifact:
        if not self._bucket_ready:
            self._s3.create_bucket(Bucket=self.bucket)
            self._bucket_ready = True
        body = zip_directory(local_dir)
        key = f"{logical_id}/{hashlib.sha256(body).hexdigest()}.zip"
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        return StagedArtifact(logical_id, local_dir, self.bucket, key)


def stage_local_artifacts(template: dict[str, Any], base_dir: Path, stager: ArtifactStager) -> StagedTemplate:
    """Replace local code URIs by S3 locations and inline definitions, as ``sam package`` would."""
    staged = StagedTemplate(copy.deepcopy(template))
    resources: dict[str, Any] = staged.template["Resources"]

    def upload(owner: str, prop: str, uri: str) -> dict[str, str]:
        artifact = stager.upload_dir(owner, _resolve_dir(base_dir, uri, owner, prop))
        staged.artifacts[(artifact.bucket, artifact.key)] = artifact
        return {"Bucket": artifact.bucket, "Key": artifact.key}

    globals_function = staged.template.get("Globals", {}).get("Function", {})
    if _is_local_uri(globals_function.get("CodeUri")):
        globals_function["CodeUri"] = upload("GlobalsFunction", "CodeUri", globals_function["CodeUri"])

    for logical_id, resource in resources.items():
        kind = resource.get("Type")
        props = resource.setdefault("Properties", {})
        if kind == "AWS::Serverless::Function" and _is_local_uri(props.get("CodeUri")):
            props["CodeUri"] = upload(logical_id, "CodeUri", props["CodeUri"])
        elif kind == "AWS::Serverless::LayerVersion" and _is_local_uri(props.get("ContentUri")):
            props["ContentUri"] = upload(logical_id, "ContentUri", props["ContentUri"])
        elif kind == "AWS::Serverless::StateMachine" and _is_local_uri(props.get("DefinitionUri")):
            path = (base_dir / props.pop("DefinitionUri")).resolve()
            if not path.is_file():
                raise FileNotFoundError(f"{logical_id}.DefinitionUri points to {path.name!r}, not a file")
            props["Definition"] = _load_definition(path)
        elif kind == "AWS::Lambda::Function" and _is_local_uri(props.get("Code")):
            location = upload(logical_id, "Code", props["Code"])
            props["Code"] = {"S3Bucket": location["Bucket"], "S3Key": location["Key"]}
        elif kind == "AWS::Lambda::LayerVersion" and _is_local_uri(props.get("Content")):
            location = upload(logical_id, "Content", props["Content"])
            props["Content"] = {"S3Bucket": location["Bucket"], "S3Key": location["Key"]}
    return staged


def translate(template: dict[str, Any], parameters: dict[str, Any], region: str) -> dict[str, Any]:
    """Run the SAM transform offline. Returns plain CloudFormation (no ``Transform`` left)."""
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import (
        to_py27_compatible_template,
        undo_mark_unicode_str_in_template,
    )

    if "Transform" not in template:
        return copy.deepcopy(template)
    fragment = copy.deepcopy(template)
    parameter_values = dict(parameters)
    to_py27_compatible_template(fragment, parameter_values)
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    policy_map = _StrictPolicyMap(STATIC_MANAGED_POLICIES)
    # Offline the feature-toggle config is empty, so every toggle check logs a warning and reads as
    # "off"; the warnings say nothing about the template.
    toggle_logger = logging.getLogger("samtranslator.feature_toggle.feature_toggle")
    previous_level = toggle_logger.level
    toggle_logger.setLevel(logging.ERROR)
    try:
        translated = translator.translate(
            fragment,
            parameter_values=parameter_values,
            get_managed_policy_map=lambda: policy_map,
        )
    finally:
        toggle_logger.setLevel(previous_level)
    return undo_mark_unicode_str_in_template(translated)
