"""``make fuzz``: schemathesis against the local stack over real HTTP, then the card-data sweep.

1. start the local stack (the real template, handlers and ASL on moto) with a usage plan wide
   enough that the fuzzer is never throttled; the function logs of the whole run go to a file;
2. run schemathesis with every check on every route, positive and negative data, with the
   submitters' API key (``run_schemathesis``; the config next to this file says which statuses
   count as accepting or rejecting, and why);
3. wait for the queue to drain, so every accepted payment has written what it writes;
4. sweep every response body, log line, table item and archive object for card data.

It exits non-zero when schemathesis reports a failure or the sweep finds anything.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from payctl.devtools.card_sweep import SweepReport, sweep

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
DASHBOARD_PATHS = "^/audit"
FUZZ_PARAMETERS = {
    "EnvironmentSuffix": "fuzz",
    # The card-data sweep reads what a deployment logging a line per step would log.
    "LogLevel": "INFO",
    "ApiThrottleRateLimit": "100000",
    "ApiThrottleBurstLimit": "100000",
    "ApiQuotaLimit": "100000000",
    "QueueVisibilityTimeoutSeconds": "60",
    "ConsumerMaxConcurrency": "4",
}


@dataclass(frozen=True)
class FuzzResult:
    exit_code: int
    cases: int
    failures: int
    errors: int
    seconds: float
    output: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.failures == 0 and self.errors == 0


def schema_url(api_url: str) -> str:
    """The local front serves the spec at the root, outside the stage."""
    scheme, _, rest = api_url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/openapi.json"


def _command(
    api_url: str,
    api_key: str,
    report: Path,
    max_examples: int,
    seed: int,
    workers: int,
    include_path_regex: str | None,
    phases: str | None,
) -> list[str]:
    return [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        schema_url(api_url),
        "--checks",
        "all",
        "--mode",
        "all",
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed),
        "--workers",
        str(workers),
        "--header",
        f"x-api-key: {api_key}",
        "--generation-database",
        "none",
        # API Gateway's integration timeout is 29 s (then 504, documented); wait for it, not for
        # schemathesis' 10 s, which a dashboards' read over a busy local stack can exceed.
        "--request-timeout",
        "35",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        *(["--include-path-regex", include_path_regex] if include_path_regex else []),
        *(["--phases", phases] if phases else []),
    ]


def run_schemathesis(
    api_url: str,
    api_key: str,
    *,
    max_examples: int,
    seed: int = 1,
    workers: int = 1,
    timeout: float = 3600,
    include_path_regex: str | None = None,
    phases: str | None = None,
) -> FuzzResult:
    """One schemathesis run, every check on every (selected) operation; counts from its JSON report.

    One worker by default: the stack and the fuzzer share two cores, and a second worker mostly
    queues behind the first (an earlier runtime, which ran concurrent invocations of one function
    as threads of one process, also mixed up their answers: a GET answered 202, a POST 200).
    """
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        report = Path(tmp) / "report.json"
        command = _command(api_url, api_key, report, max_examples, seed, workers, include_path_regex, phases)
        started = time.monotonic()
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=tmp,
            check=False,
            env={**os.environ, "SCHEMATHESIS_HOOKS": "payctl.devtools.fuzz_hooks"},
        )
        seconds = time.monotonic() - started
        cases, failures, errors = _counts(report)
    return FuzzResult(
        completed.returncode, cases, failures, errors, seconds, completed.stdout + completed.stderr
    )


def fuzz_stack(
    api_url: str,
    submitter_key: str,
    dashboard_key: str,
    *,
    max_examples: int,
    seed: int = 1,
    timeout: float = 3600,
) -> FuzzResult:
    """Every route with the submitters' key, then the dashboards' routes with the dashboards' key
    (with the submitters' key they are all 403 ``forbidden``); the counts of both runs."""
    runs = [
        run_schemathesis(api_url, submitter_key, max_examples=max_examples, seed=seed, timeout=timeout),
        run_schemathesis(
            api_url,
            dashboard_key,
            max_examples=max_examples,
            seed=seed,
            timeout=timeout,
            include_path_regex=DASHBOARD_PATHS,
        ),
    ]
    return FuzzResult(
        max(run.exit_code for run in runs),
        sum(run.cases for run in runs),
        sum(run.failures for run in runs),
        sum(run.errors for run in runs),
        sum(run.seconds for run in runs),
        "\n".join(run.output for run in runs),
    )


def _counts(report: Path) -> tuple[int, int, int]:
    """Test cases generated, failures (unique, summed over their kinds) and errors, from the JSON report."""
    if not report.exists():
        return 0, 0, 0
    data = json.loads(report.read_text())
    cases = int(data.get("test_cases", {}).get("generated", 0))
    failures = sum(int(group.get("count", 0)) for group in data.get("failures", []))
    errors = sum(int(group.get("count", 0)) for group in data.get("errors", []))
    return cases, failures, errors


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[int]:
    """Send this process's stdout and stderr (and its children's) to ``path``; yields the old stdout."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("ab") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield saved[0]
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def wait_drained(sqs: Any, queue_url: str, timeout: float = 600) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        if all(value == "0" for value in attributes.values()):
            return True
        time.sleep(1)
    return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m payctl.devtools.fuzz", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--max-examples", type=int, default=400, help="cases per operation and phase")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    from payctl.local.local_stack import LocalStack

    def say(text: str) -> None:
        os.write(terminal, (text + "\n").encode())

    responses: list[bytes] = []
    with tempfile.TemporaryDirectory(prefix="fuzz-logs-") as tmp:
        log_file = Path(tmp) / "functions.log"
        with output_to(log_file) as terminal:
            say("starting the local stack ...")
            with LocalStack(ROOT / "template.yaml", FUZZ_PARAMETERS, api_port=0, moto_port=0) as local:
                assert local.api_server is not None
                local.api_server.front.observers.append(
                    lambda request, response: responses.append(response.body)
                )
                say(f"schemathesis against {local.api_url}, {args.max_examples} examples per operation ...")
                result = fuzz_stack(
                    local.api_url,
                    local.api_key_value(),
                    local.api_key_value("DashboardApiKeyId"),
                    max_examples=args.max_examples,
                    seed=args.seed,
                )
                say(result.output)
                clients = {
                    name: boto3.client(name, region_name=local.region, endpoint_url=local.moto_endpoint)
                    for name in ("sqs", "dynamodb", "s3")
                }
                drained = wait_drained(clients["sqs"], local.outputs["PaymentsQueueUrl"])
                report: SweepReport = sweep(
                    responses=responses,
                    log_lines=log_file.read_text(errors="replace").splitlines(),
                    dynamodb=clients["dynamodb"],
                    s3=clients["s3"],
                )
        print(
            f"schemathesis: {result.cases} test cases, {result.failures} failures, {result.errors} errors "
            f"in {result.seconds:.0f} s (exit {result.exit_code})"
        )
        print(report.summary())
        for finding in report.findings[:50]:
            print(f"  {finding.what} in {finding.where} at {finding.path}")
        if not drained:
            print("the payments queue did not drain within 10 minutes")
    return 0 if result.ok and not report.findings and drained else 1


if __name__ == "__main__":
    raise SystemExit(main())
