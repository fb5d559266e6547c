"""``make bench-coldstart``: each function's import and init time against a bare ``import boto3``.

A Lambda cold start pays for the handler module's import (the init phase) before the first
event. This measures that time for every function of the template, as deployed:

1. The layer is built the way ``make build`` builds it: the pinned requirements, the runtime's
   own packages (boto3, botocore, ...) dropped, ``payments_core`` added, every module compiled
   to ``unchecked-hash`` .pyc by the runtime's Python. The only difference is the wheels' platform:
   they match this machine, so the layer can be imported here. boto3 and botocore come in a
   directory of their own, compiled the same way, as the Lambda runtime provides them.
2. Each function's code directory is copied and compiled the same way.
3. Every sample is a fresh interpreter (``-S``: no site-packages, nothing but the layer, the
   runtime's boto3 and the function's code on the path), with the function's environment from
   the template and the variables Lambda sets, so Powertools runs as it does in Lambda (the
   Tracer enabled). It times ``import <handler module>`` from the first line, interpreter start
   excluded.
4. The rounds are interleaved: each round times a bare ``import boto3`` in a fresh interpreter,
   then every function once. A function's figure is the median over the rounds; its ratio is that
   median over the median of the bare boto3 imports of the same run. Host noise in one round
   then touches both sides alike.
5. Each ratio is held against its target: 1.5x for a function behind the API (an ``Api`` event in
   the template), 1.3x for every other one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from payctl.devtools.build import _compile, _ignore, build_layer, find_interpreter, runtime_python
from payctl.runtime.cfn_yaml import load_template

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / ".aws-sam" / "coldstart"
HOST_PLATFORMS = {
    "x86_64": ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64"),
    "aarch64": ("manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64"),
}
# What the Lambda Python runtime provides besides the standard library.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six")
# The targets, as ratios to a bare ``import boto3``: the API validates requests against its OpenAPI
# models, so it gets more room than the functions that read events from queues and streams.
API_TARGET = 1.5
TARGET = 1.3
_TRACE_ID = "Root=1-674c1a2b-5f3e2d1c0b9a887766554433;Parent=4a3b2c1d0e9f8a7b;Sampled=1"
# CPU time of the import, and its wall time, in microseconds. The host is shared: CPU time is what
# the import itself costs, while wall time also holds whatever else the host ran meanwhile.
_TIMER = (
    "import time\n"
    "wall, cpu = time.perf_counter(), time.process_time()\n"
    "import importlib, sys\n"
    "importlib.import_module(sys.argv[1])\n"
    "print(round((time.process_time() - cpu) * 1e6), round((time.perf_counter() - wall) * 1e6))\n"
)


@dataclass(frozen=True)
class Function:
    logical_id: str
    module: str
    code_dir: Path
    env: dict[str, str]
    target: float


def _stamp(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _installed_version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def prepare(template_path: Path, interpreter: str, version: str) -> tuple[Path, Path]:
    """The host-platform layer and runtime directory, rebuilt when their inputs change."""
    template = load_template(template_path)
    layer_id, layer = next(
        (lid, r) for lid, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::LayerVersion"
    )
    content_dir = template_path.parent / layer["Properties"]["ContentUri"]
    machine = platform.machine()
    if machine not in HOST_PLATFORMS:
        raise SystemExit(f"no manylinux platform known for {machine}")
    requirements = content_dir / "requirements.txt"
    stamp_file = OUT / f"{layer_id}.requirements"
    layer_dir = OUT / layer_id
    if not stamp_file.exists() or stamp_file.read_text() != _stamp([requirements]):
        build_layer(OUT, content_dir, version, interpreter, layer_id, HOST_PLATFORMS[machine])
        stamp_file.write_text(_stamp([requirements]))
    else:
        # The layer's own package may have changed: copy and compile it again (fast).
        site = layer_dir / "python"
        for package in content_dir.iterdir():
            if (package / "__init__.py").is_file():
                shutil.rmtree(site / package.name, ignore_errors=True)
                shutil.copytree(package, site / package.name, ignore=_ignore)
                _compile(interpreter, site / package.name)

    runtime_dir = OUT / "runtime"
    pins = [f"{name}=={_installed_version(name)}" for name in ("boto3", "botocore")]
    runtime_stamp = OUT / "runtime.pins"
    if not runtime_stamp.exists() or runtime_stamp.read_text() != " ".join(pins):
        shutil.rmtree(runtime_dir, ignore_errors=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-compile",
                "--target",
                str(runtime_dir),
                *pins,
            ],
            check=True,
        )
        _compile(interpreter, runtime_dir)
        runtime_stamp.write_text(" ".join(pins))
    return layer_dir / "python", runtime_dir


def _value(value: Any, logical_id: str, defaults: dict[str, Any]) -> str:
    """A plausible value for an environment variable: a parameter's default for a ``Ref`` to one,
    a made-up physical name for any other intrinsic."""
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in defaults:
        return str(defaults[value["Ref"]])
    return f"payments-dev-main-{logical_id.lower()}"


def functions(template_path: Path) -> list[Function]:
    template = load_template(template_path)
    function_defaults = template.get("Globals", {}).get("Function", {})
    defaults = {name: p["Default"] for name, p in template.get("Parameters", {}).items() if "Default" in p}
    shared_env = function_defaults.get("Environment", {}).get("Variables", {})
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        variables = {**shared_env, **properties.get("Environment", {}).get("Variables", {})}
        env = {name: _value(value, name, defaults) for name, value in variables.items()}
        env["AUDIT_SHARDS"] = "16"
        target = OUT / "functions" / logical_id
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(template_path.parent / properties["CodeUri"], target, ignore=_ignore)
        events = (properties.get("Events") or {}).values()
        goal = API_TARGET if any(event.get("Type") == "Api" for event in events) else TARGET
        found.append(Function(logical_id, properties["Handler"].rpartition(".")[0], target, env, goal))
    return found


def _lambda_env(function: Function | None, paths: list[Path], version: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join(str(p) for p in paths),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{version}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }
    if function is not None:
        env.update(function.env)
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": f"payments-dev-main-{function.logical_id}",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
                "LAMBDA_TASK_ROOT": str(function.code_dir),
                "_HANDLER": function.module + ".lambda_handler",
                "_X_AMZN_TRACE_ID": _TRACE_ID,
            }
        )
    return env


def sample(interpreter: str, module: str, env: dict[str, str]) -> tuple[float, float]:
    """(CPU ms, wall ms) of importing ``module`` in a fresh interpreter."""
    done = subprocess.run(
        [interpreter, "-S", "-s", "-c", _TIMER, module], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"importing {module} failed:\n{done.stderr[-3000:]}")
    cpu, wall = done.stdout.strip().splitlines()[-1].split()
    return int(cpu) / 1000, int(wall) / 1000


def measure(runs: int) -> dict[str, dict[str, float]]:
    template_path = ROOT / "template.yaml"
    version = runtime_python(load_template(template_path))
    interpreter = find_interpreter(version)
    layer, runtime = prepare(template_path, interpreter, version)
    found = functions(template_path)
    for function in found:
        _compile(interpreter, function.code_dir)

    baseline_env = _lambda_env(None, [runtime], version)
    samples: dict[str, list[tuple[float, float]]] = {"boto3": [], **{f.logical_id: [] for f in found}}
    for _ in range(runs):
        samples["boto3"].append(sample(interpreter, "boto3", baseline_env))
        for function in found:
            env = _lambda_env(function, [function.code_dir, layer, runtime], version)
            samples[function.logical_id].append(sample(interpreter, function.module, env))

    targets = {function.logical_id: function.target for function in found}
    base_cpu = statistics.median(cpu for cpu, _ in samples["boto3"])
    base_wall = statistics.median(wall for _, wall in samples["boto3"])
    result = {}
    for name, values in samples.items():
        cpu = statistics.median(c for c, _ in values)
        wall = statistics.median(w for _, w in values)
        result[name] = {
            "cpu_ms": round(cpu, 1),
            "cpu_ratio": round(cpu / base_cpu, 2),
            "wall_ms": round(wall, 1),
            "wall_ratio": round(wall / base_wall, 2),
        }
        if name in targets:
            result[name]["target"] = targets[name]
    return result


def _load(averages: tuple[float, float, float]) -> str:
    return ", ".join(f"{average:.2f}" for average in averages)


def _verdict(row: dict[str, float]) -> str:
    if "target" not in row:
        return ""
    met = "met" if row["cpu_ratio"] <= row["target"] else "not met"
    return f"<= {row['target']:.1f}x: {met}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Cold-start import time per function vs a bare import boto3."
    )
    parser.add_argument("--runs", type=int, default=9, help="interleaved rounds (at least 7; default 9)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.runs < 7:
        parser.error("--runs must be at least 7")
    load_before = os.getloadavg()
    result = measure(args.runs)
    load_after = os.getloadavg()

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Cold start: import + init, .pyc, median of {args.runs} interleaved fresh processes")
    columns = ("function", "CPU ms", "x bare boto3 (CPU)", "wall ms", "x bare boto3 (wall)", "target (CPU)")
    for column in columns:
        table.add_column(column, justify="right" if column != "function" else "left")
    for name, row in result.items():
        table.add_row(
            name,
            f"{row['cpu_ms']:.1f}",
            f"{row['cpu_ratio']:.2f}",
            f"{row['wall_ms']:.1f}",
            f"{row['wall_ratio']:.2f}",
            _verdict(row),
        )
    console = Console()
    (console if console.is_terminal else Console(width=120)).print(table)
    print(
        "The host is shared: CPU time is the import's own cost; wall time also holds the host's other load."
    )
    print(f"Load average (1, 5, 15 min) before: {_load(load_before)}; after: {_load(load_after)}.")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
