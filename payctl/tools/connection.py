"""Where a command's stack lives: a running local stack (its moto endpoint) or a deployed stack.

Every tool reaches AWS through a :class:`Connection`: resource names come from the stack's
outputs, clients from one boto3 session (profile, region, endpoint), never from ``os.environ``
edits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from payctl.tools.stack_file import DEFAULT_STATE_FILE, read_state

# moto accepts any credentials; these only keep botocore from looking for real ones.
_LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class MissingOutput(KeyError):
    """The stack has no output of that name (an older template, or another stack)."""


@dataclass(frozen=True)
class Target:
    """How the user named the stack: a deployed stack's name (with profile, region, endpoint), or
    the local stack's state file."""

    state_file: Path = DEFAULT_STATE_FILE
    stack_name: str | None = None
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None


@dataclass(frozen=True)
class Connection:
    region: str
    outputs: dict[str, str]
    endpoint_url: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    profile: str | None = None
    local: bool = False

    @property
    def api_url(self) -> str:
        return self.output("ApiUrl").rstrip("/")

    def output(self, name: str) -> str:
        try:
            return self.outputs[name]
        except KeyError:
            raise MissingOutput(f"the stack has no output {name!r}") from None

    def setting(self, environment_name: str, parameter_name: str, default: str) -> str:
        """A function setting the stack was deployed with (local: its environment; AWS: its parameter)."""
        return self.environment.get(environment_name) or self.parameters.get(parameter_name) or default

    def client(self, service: str) -> Any:
        session = boto3.Session(profile_name=self.profile, region_name=self.region)
        if self.local:
            credentials = {
                "aws_access_key_id": os.environ.get(
                    "AWS_ACCESS_KEY_ID", _LOCAL_CREDENTIALS["aws_access_key_id"]
                ),
                "aws_secret_access_key": os.environ.get(
                    "AWS_SECRET_ACCESS_KEY", _LOCAL_CREDENTIALS["aws_secret_access_key"]
                ),
            }
            return session.client(service, endpoint_url=self.endpoint_url, **credentials)
        return session.client(service, endpoint_url=self.endpoint_url)

    def api_key_value(self, output: str = "ApiKeyId") -> str:
        client = self.client("apigateway")
        return str(client.get_api_key(apiKey=self.output(output), includeValue=True)["value"])

    @classmethod
    def from_state(cls, state_file: Path = DEFAULT_STATE_FILE) -> Connection:
        return cls.from_info(read_state(state_file))

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> Connection:
        """A local stack, from what it records for other processes (``LocalStack.connection_info``)."""
        return cls(
            region=info["region"],
            outputs=dict(info["outputs"]),
            endpoint_url=info["moto_endpoint"],
            parameters=dict(info.get("parameters") or {}),
            environment=dict(info.get("function_environment") or {}),
            local=True,
        )

    @classmethod
    def cloudformation(
        cls,
        stack_name: str,
        region: str | None = None,
        *,
        profile: str | None = None,
        endpoint_url: str | None = None,
    ) -> Connection:
        """A deployed stack: names from its outputs, settings from its parameters."""
        session = boto3.Session(profile_name=profile, region_name=region)
        client = session.client("cloudformation", endpoint_url=endpoint_url)
        described = client.describe_stacks(StackName=stack_name)["Stacks"][0]
        return cls(
            region=client.meta.region_name,
            outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
            parameters={
                p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])
            },
            profile=profile,
            endpoint_url=endpoint_url,
        )


def resolve_connection(target: Target) -> Connection:
    if target.stack_name:
        return Connection.cloudformation(
            target.stack_name, target.region, profile=target.profile, endpoint_url=target.endpoint_url
        )
    return Connection.from_state(target.state_file)
