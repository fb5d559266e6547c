"""What ``sam build`` does for this stack, without Docker: the artifacts for arm64 Lambda.

- The shared layer: ``shared/requirements.txt`` installed as manylinux aarch64 wheels for the
  runtime's Python (pip ``--platform``; no wheel, no build: a source-only package fails here
  rather than producing an x86 binary), plus ``payments_core``, under ``python/``.
- Each function: its CodeUri directory.
- Every ``.py`` compiled to ``.pyc`` by the runtime's own Python version with
  ``unchecked-hash`` invalidation. Lambda mounts layers read-only, so it cannot write
  ``__pycache__`` under /opt; without matching .pyc files every cold start recompiles
  the layer (about 3x slower imports). The artifacts never change after build, so
  skipping the source check at import is safe.
- ``template.yaml`` rewritten with CodeUri/ContentUri pointing at the built folders, in
  ``.aws-sam/build`` where ``sam deploy`` looks for it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from payctl.runtime.cfn_yaml import load_template

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64")
# The Lambda Python runtime already carries boto3 and its dependencies. aws-xray-sdk pulls in
# botocore; a second copy in the layer would shadow the runtime's and could mismatch its boto3.
RUNTIME_PROVIDED = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "urllib3",
    "dateutil",
    "python_dateutil",
    "six",
)


def runtime_python(template: dict) -> str:
    runtime = template.get("Globals", {}).get("Function", {}).get("Runtime", "python3.12")
    return runtime.removeprefix("python")


def find_interpreter(version: str) -> str:
    """The runtime's own CPython: .pyc files are only valid for the exact minor version."""
    candidates = [f"python{version}", sys.executable]
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False).stdout.strip()
        candidates += sorted(str(p) for p in Path(root).glob(f"versions/{version}.*/bin/python{version}"))
    for name in candidates:
        path = shutil.which(name) if "/" not in name else name
        if not path:
            continue
        found = subprocess.run(
            [path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if found.stdout.strip() == version:
            return path
    raise SystemExit(f"python{version} is needed to compile the layer for the Lambda runtime; install it")


def _compile(interpreter: str, folder: Path) -> None:
    subprocess.run(
        [interpreter, "-m", "compileall", "-q", "-j0", "--invalidation-mode", "unchecked-hash", str(folder)],
        check=True,
    )


def build_layer(
    out: Path,
    content_dir: Path,
    version: str,
    interpreter: str,
    name: str = "SharedLayer",
    wheel_platforms: tuple[str, ...] = RUNTIME_PLATFORMS,
) -> Path:
    """The layer from its ContentUri: requirements.txt installed, its packages copied, under python/.

    ``wheel_platforms`` other than the runtime's build the same layer for this machine, so that
    its cold start can be measured here (``make bench-coldstart``).
    """
    target = out / name
    shutil.rmtree(target, ignore_errors=True)
    site = target / "python"
    site.mkdir(parents=True)
    platforms = [arg for platform in wheel_platforms for arg in ("--platform", platform)]
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
            "--only-binary=:all:", "--implementation", "cp", "--python-version", version,
            *platforms, "--target", str(site), "-r", str(content_dir / "requirements.txt"),
        ],
        check=True,
    )  # fmt: skip
    for entry in list(site.iterdir()):
        name = entry.name.split("-")[0].removesuffix(".py")
        if name in RUNTIME_PROVIDED or entry.name == "bin":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for package in content_dir.iterdir():
        if (package / "__init__.py").is_file():
            shutil.copytree(package, site / package.name, ignore=_ignore)
    _compile(interpreter, site)
    return target


def _ignore(_folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in {"__pycache__", ".pytest_cache"} or n.endswith(".pyc")}


def build(out: Path, template_path: Path = ROOT / "template.yaml") -> Path:
    # Plain dicts in CloudFormation's long form (Fn::Sub, Ref), which yaml.safe_dump can write back.
    template = load_template(template_path)
    version = runtime_python(template)
    interpreter = find_interpreter(version)
    out.mkdir(parents=True, exist_ok=True)
    resources = template["Resources"]
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            content_dir = template_path.parent / props["ContentUri"]
            build_layer(out, content_dir, version, interpreter, logical_id)
            props["ContentUri"] = logical_id
        elif resource["Type"] == "AWS::Serverless::Function":
            target = out / logical_id
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(template_path.parent / props["CodeUri"], target, ignore=_ignore)
            _compile(interpreter, target)
            props["CodeUri"] = logical_id
        elif resource["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            source = template_path.parent / props["DefinitionUri"]
            shutil.copy(source, out / source.name)
            props["DefinitionUri"] = source.name
    built = out / "template.yaml"
    built.write_text(yaml.safe_dump(template, sort_keys=False))
    return built


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".aws-sam" / "build")
    args = parser.parse_args(argv)
    print(f"built {build(args.out)}")


if __name__ == "__main__":
    main()
