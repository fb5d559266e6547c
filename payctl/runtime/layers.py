"""Shim 2 — Lambda layers through CloudFormation.

Gap (moto 5.2.5): ``AWS::Lambda::LayerVersion`` has no physical id, so ``!Ref`` of a layer resolves
to a Python object instead of the layer version ARN; the layer is published under a generated name
instead of its ``LayerName``; and ``AWS::Lambda::Function`` drops the ``Layers``, ``Architectures``
and ``TracingConfig`` properties. This shim fixes all three and records each layer's source
directory, so that handlers can import the layer's packages as they would from ``/opt/python``.
"""

from __future__ import annotations

from typing import Any

from payctl.runtime import _state
from payctl.runtime._patching import Patcher

GAP = "moto CloudFormation LayerVersion Ref and function Layers"


def _layer_physical_id(self: Any) -> str:
    return str(self.arn)


def _record_layer_source(layer_version: Any, content: dict[str, Any]) -> None:
    if not _state.is_active():
        return
    state = _state.current()
    directory = state.artifact_dir(content.get("S3Bucket"), content.get("S3Key"))
    if directory is not None:
        state.layer_dirs[layer_version.arn] = directory
        state.import_roots.add(directory)


def install(patcher: Patcher) -> None:
    from moto.awslambda import models as lambda_models
    from moto.awslambda.utils import get_backend

    layer_cls = lambda_models.LayerVersion
    function_cls = lambda_models.LambdaFunction

    patcher.setattr(layer_cls, "physical_resource_id", property(_layer_physical_id), gap=GAP, create=True)

    def create_layer_version(
        cls: Any,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        spec: dict[str, Any] = {
            "Content": properties["Content"],
            "LayerName": properties.get("LayerName", resource_name),
        }
        for prop in ("Description", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"):
            if prop in properties:
                spec[prop] = properties[prop]
        layer_version = get_backend(account_id, region_name).publish_layer_version(spec)
        _record_layer_source(layer_version, properties["Content"])
        return layer_version

    patcher.setattr(layer_cls, "create_from_cloudformation_json", classmethod(create_layer_version), gap=GAP)

    original_create_function = function_cls.__dict__["create_from_cloudformation_json"].__func__

    def create_function(
        cls: Any,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        created = original_create_function(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        properties = cloudformation_json["Properties"]
        stored = get_backend(account_id, region_name).get_function(created.function_name)
        for fn in {id(created): created, id(stored): stored}.values():
            if properties.get("Layers"):
                fn.layers = fn._get_layers_data(list(properties["Layers"]))
            if properties.get("Architectures"):
                fn.architectures = list(properties["Architectures"])
            if properties.get("TracingConfig"):
                fn.tracing_config = dict(properties["TracingConfig"])
        return created

    patcher.setattr(function_cls, "create_from_cloudformation_json", classmethod(create_function), gap=GAP)
