"""One local stack for the whole e2e package: real HTTP to the API front, real HTTP to moto."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from payctl.local.local_stack import LocalStack
from payctl.runtime import _state as runtime_state
from payctl.tools.api_client import ApiClient
from payctl.tools.stack_file import write_state
from tests import factories
from tests.factories import unique_key

REPO_ROOT = Path(__file__).resolve().parents[2]

# Overrides through the same path as `payctl local up --params`, each within the template's
# constraints. The stack's usage plan is generous, so no test is throttled by another's traffic;
# the throttling test gives itself a key on a small plan of its own. The visibility timeout is
# the template's minimum (a shorter one would also redeliver healthy messages while a busy machine
# still processes them); the failure tests shorten it on the queue itself, for their duration only.
E2E_PARAMETERS = {
    "EnvironmentSuffix": "e2e",
    # The card-data sweep reads what a deployment logging a line per step would log.
    "LogLevel": "INFO",
    "QueueVisibilityTimeoutSeconds": "60",
    "ApiThrottleRateLimit": "500",
    "ApiThrottleBurstLimit": "500",
    # Fewer concurrent batches on a 2-core machine: the same throughput, each batch done sooner.
    "ConsumerMaxConcurrency": "4",
}

TERMINAL = frozenset({"SETTLED", "DECLINED"})


@dataclass(frozen=True)
class StaticSite:
    """A plain web server on an origin of its own, where a static dashboard page is hosted."""

    root: Path
    origin: str


@pytest.fixture(scope="package")
def static_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticSite]:
    root = tmp_path_factory.mktemp("site")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield StaticSite(root, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="package")
def local_stack(static_site: StaticSite) -> Iterator[LocalStack]:
    if runtime_state.is_active():
        pytest.fail(
            "another suite's in-process moto is still running in this process; run tests/e2e first "
            "(its default position) or in its own pytest run"
        )
    # The dashboard page is hosted on another origin, as a deployed static page would be.
    parameters = {**E2E_PARAMETERS, "DashboardOrigin": static_site.origin}
    with LocalStack(REPO_ROOT / "template.yaml", parameters, api_port=0, moto_port=0) as local:
        yield local


@pytest.fixture(scope="package")
def api_key(local_stack: LocalStack) -> str:
    return local_stack.api_key_value()


@pytest.fixture
def api(local_stack: LocalStack, api_key: str) -> Iterator[ApiClient]:
    client = ApiClient(local_stack.api_url, api_key)
    yield client
    client.close()


@pytest.fixture(scope="package")
def aws(local_stack: LocalStack) -> Callable[[str], Any]:
    """boto3 clients that reach the stack through the moto server, as another process would."""
    endpoint = local_stack.moto_endpoint

    def client(service: str) -> Any:
        return boto3.client(
            service,
            region_name=local_stack.region,
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client


@pytest.fixture(scope="package")
def state_file(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `payctl local up` writes, so the CLI commands find this stack."""
    return write_state(local_stack.connection_info(), tmp_path_factory.mktemp("payctl") / "local.json")


@pytest.fixture
def payctl(state_file: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """The CLI in its own process, as an operator runs it against the running stack."""

    def run(*args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [sys.executable, "-m", "payctl", *args, "--state-file", str(state_file)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO_ROOT,
            env={**os.environ, "COLUMNS": "200"},
        )
        assert completed.returncode == expect, completed.stderr + completed.stdout
        return completed

    return run


@pytest.fixture
def payment() -> Callable[..., dict[str, Any]]:
    """A payment validation and fraud both pass; every call gets its own customer (no velocity)."""

    def make(**overrides: Any) -> dict[str, Any]:
        body = factories.fresh_payment(merchant_id="m_e2e", reference=f"order-{uuid.uuid4().hex[:8]}")
        del body["metadata"]  # none unless a test adds it: some append a metadata key to the raw body
        return {**body, **overrides}

    return make


@pytest.fixture
def idempotency_key() -> Callable[[], str]:
    return lambda: unique_key("e2e")


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.25, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


@pytest.fixture
def wait() -> Callable[..., Any]:
    return wait_for


@pytest.fixture
def wait_for_status(api: ApiClient) -> Callable[..., dict[str, Any]]:
    """GET /payments/{id} until its status is one of ``statuses`` (a 404 means not recorded yet)."""

    def wait(transaction_id: str, statuses: frozenset[str] = TERMINAL, timeout: float = 60) -> dict[str, Any]:
        def current() -> dict[str, Any] | None:
            response = api.get(f"/payments/{transaction_id}")
            if response.status == 404:
                return None
            assert response.status == 200, response.body
            body = response.json()
            return body if body["status"] in statuses else None

        return wait_for(current, timeout, what=f"{transaction_id} to reach {sorted(statuses)}")

    return wait


@pytest.fixture
def wait_for_audit(api: ApiClient) -> Callable[..., list[dict[str, Any]]]:
    """GET /payments/{id}/audit until it holds ``action``; the events then.

    The rows follow the state changes through the transactions stream, so a terminal status can
    be read a moment before the row that records it.
    """

    def wait(transaction_id: str, action: str, timeout: float = 30) -> list[dict[str, Any]]:
        def trail() -> list[dict[str, Any]] | None:
            response = api.get(f"/payments/{transaction_id}/audit")
            assert response.status == 200, response.body
            events: list[dict[str, Any]] = response.json()["events"]
            return events if any(event["action"] == action for event in events) else None

        return wait_for(trail, timeout, what=f"the {action} audit row of {transaction_id}")

    return wait


@pytest.fixture
def queue_drained(local_stack: LocalStack, aws: Callable[[str], Any]) -> Callable[[float], None]:
    """Wait until the payments queue holds nothing, visible or in flight."""

    def drained(timeout: float = 120) -> None:
        sqs = aws("sqs")
        url = local_stack.outputs["PaymentsQueueUrl"]

        def empty() -> bool:
            attributes = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            return all(value == "0" for value in attributes.values())

        wait_for(empty, timeout, what="the payments queue to drain")

    return drained


# ------------------------------------------------------------------ the card-data sweep's sources


@dataclass
class RunRecord:
    """What the e2e run wrote that is not in the stack's tables: response bodies and output."""

    responses: list[bytes] = field(default_factory=list)
    output: list[str] = field(default_factory=list)


RUN_RECORD = RunRecord()


@pytest.fixture
def run_record() -> RunRecord:
    """What the e2e tests so far wrote (a fixture: test modules import this conftest under
    another name, which would give them a second, empty record)."""
    return RUN_RECORD


@pytest.fixture(scope="package", autouse=True)
def _record_responses(local_stack: LocalStack) -> None:
    assert local_stack.api_server is not None
    local_stack.api_server.front.observers.append(
        lambda request, response: RUN_RECORD.responses.append(response.body)
    )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # What each e2e test phase printed and logged, the functions' log lines among it (they run in
    # this process, so pytest captures them with the test that was running).
    if "tests/e2e/" in report.nodeid.replace(os.sep, "/") or report.nodeid.startswith("e2e/"):
        RUN_RECORD.output.extend(text for _, text in report.sections)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The sweep reads what every other e2e test wrote, so it runs last among them."""
    sweeps = [item for item in items if item.get_closest_marker("card_sweep")]
    if not sweeps:
        return
    others = [item for item in items if item not in sweeps]
    e2e = [i for i, item in enumerate(others) if "/e2e/" in str(item.path).replace(os.sep, "/")]
    at = e2e[-1] + 1 if e2e else len(others)
    items[:] = [*others[:at], *sweeps, *others[at:]]
