"""Shim 12 — the REST API's resources exist in moto, as the template defines them.

Gap (moto 5.2.5): ``AWS::ApiGateway::RestApi`` ignores ``Body``, so the API has no methods and the
SAM-generated ``AWS::ApiGateway::Deployment`` fails the whole stack ("The REST API doesn't contain
any methods"); ``AWS::ApiGateway::Stage``, ``ApiKey``, ``UsagePlan`` and ``UsagePlanKey`` have no
CloudFormation support at all, so ``!Ref`` of the API key (the ``ApiKeyId`` output) is empty. This
shim imports the OpenAPI ``Body`` (methods, ``x-api-key`` requirement, integrations) and creates the
stage, key (API Gateway generates its value), usage plan and plan key through moto's API Gateway
backend. moto still does not *serve* AWS_PROXY integrations; ``payctl.local`` does that.

Gap (moto 5.2.5): importing a ``mock`` integration (the OPTIONS method SAM adds to every path for
``Cors``) fails, since ``put_integration`` requires a ``uri`` and an ``httpMethod`` that a mock
integration does not have; here those two are empty for a mock integration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from payctl.runtime._patching import Patcher

GAP = "moto CloudFormation ignores RestApi Body and drops Stage/ApiKey/UsagePlan"


def _backend(account_id: str, region_name: str) -> Any:
    from moto.apigateway.models import apigateway_backends

    return apigateway_backends[account_id][region_name]


def _api_key_schemes(body: dict[str, Any]) -> set[str]:
    schemes = body.get("components", {}).get("securitySchemes", {}) or body.get("securityDefinitions", {})
    return {
        name
        for name, scheme in schemes.items()
        if scheme.get("type") == "apiKey" and str(scheme.get("name", "")).lower() == "x-api-key"
    }


def _import_body(backend: Any, api_id: str, body: dict[str, Any]) -> None:
    if body.get("swagger") is not None:
        raise NotImplementedError(
            "a Swagger 2.0 RestApi Body is not imported locally; use OpenApiVersion 3.0"
        )
    backend.put_rest_api(api_id, body, fail_on_warnings=False, mode="overwrite")
    key_schemes = _api_key_schemes(body)
    api = backend.get_rest_api(api_id)
    default_security = body.get("security", [])
    for path, methods in body.get("paths", {}).items():
        resource = api.get_resource_for_path(path)
        for method_name, method_doc in methods.items():
            if not isinstance(method_doc, dict):
                continue
            http_method = "ANY" if method_name == "x-amazon-apigateway-any-method" else method_name.upper()
            method = resource.resource_methods.get(http_method)
            if method is None:
                continue
            security = method_doc.get("security", default_security)
            method.api_key_required = any(key_schemes & set(requirement) for requirement in security)


@dataclass
class _Resource:
    """What moto's stack machinery needs from a created resource: its physical id."""

    physical_resource_id: str
    model: Any

    def is_created(self) -> bool:
        return True

    def delete(self, account_id: str, region_name: str) -> None:
        """Local stacks are torn down with the moto session; nothing to release one by one."""


def _create_rest_api(
    cls: Any,
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **_: Any,
) -> Any:
    properties = cloudformation_json["Properties"]
    body = properties.get("Body")
    name = properties.get("Name") or (body or {}).get("info", {}).get("title") or resource_name
    backend = _backend(account_id, region_name)
    api = backend.create_rest_api(
        name=name,
        description=properties.get("Description", ""),
        endpoint_configuration=properties.get("EndpointConfiguration"),
    )
    if body:
        _import_body(backend, api.id, body)
    return api


class _Model:
    """The part of moto's CloudFormation model protocol these resources need.

    ``CFN_TYPE`` and ``NAME_PROPERTY`` answer ``cloudformation_type()`` and
    ``cloudformation_name_type()``; a subclass creates its resource in ``create``.
    """

    CFN_TYPE: ClassVar[str]
    NAME_PROPERTY: ClassVar[str]

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.CFN_TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **_: Any,
    ) -> _Resource:
        return cls.create(_backend(account_id, region_name), resource_name, cloudformation_json["Properties"])

    @staticmethod
    def create(backend: Any, resource_name: str, properties: dict[str, Any]) -> _Resource:
        raise NotImplementedError


class _Stage(_Model):
    CFN_TYPE = "AWS::ApiGateway::Stage"
    NAME_PROPERTY = "StageName"

    @staticmethod
    def create(backend: Any, resource_name: str, properties: dict[str, Any]) -> _Resource:
        stage = backend.create_stage(
            function_id=properties["RestApiId"],
            stage_name=properties["StageName"],
            deploymentId=properties["DeploymentId"],
            variables=properties.get("Variables"),
            description=properties.get("Description", ""),
            tracing_enabled=properties.get("TracingEnabled"),
            tags={tag["Key"]: tag["Value"] for tag in properties.get("Tags", [])} or None,
        )
        return _Resource(stage.name, stage)


class _ApiKey(_Model):
    CFN_TYPE = "AWS::ApiGateway::ApiKey"
    NAME_PROPERTY = "Name"

    @staticmethod
    def create(backend: Any, resource_name: str, properties: dict[str, Any]) -> _Resource:
        payload: dict[str, Any] = {
            "name": properties.get("Name", resource_name),
            "description": properties.get("Description"),
            "enabled": properties.get("Enabled", False) in (True, "true", "True"),
            "stageKeys": [
                {"restApiId": key["RestApiId"], "stageName": key["StageName"]}
                for key in properties.get("StageKeys", [])
            ],
        }
        if properties.get("Value"):
            payload["value"] = properties["Value"]
        key = backend.create_api_key(payload)
        return _Resource(key.id, key)


class _UsagePlan(_Model):
    CFN_TYPE = "AWS::ApiGateway::UsagePlan"
    NAME_PROPERTY = "UsagePlanName"

    @staticmethod
    def create(backend: Any, resource_name: str, properties: dict[str, Any]) -> _Resource:
        payload: dict[str, Any] = {
            "name": properties.get("UsagePlanName", resource_name),
            "description": properties.get("Description"),
            "apiStages": [
                {"apiId": stage["ApiId"], "stage": stage["Stage"]}
                for stage in properties.get("ApiStages", [])
            ],
        }
        if "Throttle" in properties:
            throttle = properties["Throttle"]
            payload["throttle"] = {
                "rateLimit": throttle.get("RateLimit"),
                "burstLimit": throttle.get("BurstLimit"),
            }
        if "Quota" in properties:
            quota = properties["Quota"]
            payload["quota"] = {"limit": quota.get("Limit"), "period": quota.get("Period")}
            if "Offset" in quota:
                payload["quota"]["offset"] = quota["Offset"]
        plan = backend.create_usage_plan(payload)
        return _Resource(plan.id, plan)


class _UsagePlanKey(_Model):
    CFN_TYPE = "AWS::ApiGateway::UsagePlanKey"
    NAME_PROPERTY = "UsagePlanKey"

    @staticmethod
    def create(backend: Any, resource_name: str, properties: dict[str, Any]) -> _Resource:
        key = backend.create_usage_plan_key(
            properties["UsagePlanId"], {"keyId": properties["KeyId"], "keyType": properties["KeyType"]}
        )
        return _Resource(f"{properties['UsagePlanId']}:{key.id}", key)


MODELS = (_Stage, _ApiKey, _UsagePlan, _UsagePlanKey)


def _mock_integrations_without_uri(original: Any) -> Any:
    def build_integration_args(self: Any, integration: dict[str, Any]) -> dict[str, Any]:
        arguments: dict[str, Any] = original(self, integration)
        if str(arguments.get("integration_type") or "").upper() == "MOCK":
            arguments["uri"] = arguments.get("uri") or ""
            arguments["integration_method"] = arguments.get("integration_method") or ""
        return arguments

    return build_integration_args


def install(patcher: Patcher) -> None:
    from moto.apigateway.models import APIGatewayBackend, Deployment, RestAPI
    from moto.cloudformation import parsing

    patcher.wrap(APIGatewayBackend, "_build_integration_args", _mock_integrations_without_uri, gap=GAP)

    # Without a physical id, ``!Ref`` of a Deployment resolves to the Python object.
    patcher.setattr(Deployment, "physical_resource_id", property(lambda self: self.id), gap=GAP, create=True)

    patcher.setattr(RestAPI, "create_from_cloudformation_json", classmethod(_create_rest_api), gap=GAP)
    original_map = parsing.get_model_map

    def get_model_map() -> dict[str, Any]:
        models: dict[str, Any] = dict(original_map())
        for model in MODELS:
            models.setdefault(model.cloudformation_type(), model)
        return models

    # Not subclasses of CloudFormationModel on purpose: moto discovers those through
    # ``__subclasses__()``, which would register them for good, outside the session too.
    patcher.setattr(parsing, "get_model_map", get_model_map, gap=GAP)
