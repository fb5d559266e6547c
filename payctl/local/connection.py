"""Where a command's stack lives: a running local stack (its moto endpoint) or a deployed stack."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from payctl.local.state import DEFAULT_STATE_FILE, read_state

# moto accepts any credentials; these only keep botocore from looking for real ones.
_LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class MissingOutput(KeyError):
    """The stack has no output of that name (an older template, or another stack)."""


@dataclass(frozen=True)
class Connection:
    region: str
    outputs: dict[str, str]
    endpoint_url: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return self.outputs["ApiUrl"].rstrip("/")

    def output(self, name: str) -> str:
        try:
            return self.outputs[name]
        except KeyError:
            raise MissingOutput(f"the stack has no output {name!r}") from None

    def client(self, service: str) -> Any:
        if self.endpoint_url is None:
            return boto3.client(service, region_name=self.region)
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        )

    @contextmanager
    def environment_for_sdk(self) -> Iterator[None]:
        """Point code that builds its own boto3 clients at this stack, via the standard variables."""
        changes = {"AWS_DEFAULT_REGION": self.region}
        if self.endpoint_url is not None:
            changes["AWS_ENDPOINT_URL"] = self.endpoint_url
            changes.update({k: v for k, v in _LOCAL_CREDENTIALS.items() if k not in os.environ})
        saved = {name: os.environ.get(name) for name in changes}
        os.environ.update(changes)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    @classmethod
    def local(cls, state_file: Path = DEFAULT_STATE_FILE) -> Connection:
        info = read_state(state_file)
        return cls(
            region=info["region"],
            outputs=dict(info["outputs"]),
            endpoint_url=info["moto_endpoint"],
            parameters=dict(info.get("parameters") or {}),
            environment=dict(info.get("function_environment") or {}),
        )

    @classmethod
    def cloudformation(cls, stack_name: str, region: str | None = None) -> Connection:
        """A deployed stack: names from its outputs, settings from its parameters."""
        client = boto3.client("cloudformation", region_name=region)
        described = client.describe_stacks(StackName=stack_name)["Stacks"][0]
        return cls(
            region=client.meta.region_name,
            outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
            parameters={
                p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])
            },
        )


def resolve_connection(stack_name: str | None, region: str | None, state_file: Path) -> Connection:
    if stack_name:
        return Connection.cloudformation(stack_name, region)
    return Connection.local(state_file)
