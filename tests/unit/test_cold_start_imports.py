"""Each function imports what it uses: a cold start pays for nothing another function needs.

Measured by ``make bench-coldstart``; these tests pin the import graph, which is deterministic.
Every handler is imported in a fresh interpreter with the Tracer enabled, as it is in Lambda.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = {
    "ingest_svc.handlers.api": "services/ingest",
    "ingest_svc.handlers.consumer": "services/ingest",
    "ingest_svc.handlers.counters": "services/ingest",
    "ingest_svc.handlers.audit_trail": "services/ingest",
    "validation_svc.handler": "services/validation",
    "fraud_svc.handler": "services/fraud",
    "settlement_svc.handler": "services/settlement",
    "settlement_svc.archiver": "services/settlement",
}
# pydantic's import and its models' construction are most of a cold start's own cost: the functions
# that read their events by hand must not load it.
WITHOUT_PYDANTIC = (
    "ingest_svc.handlers.counters",
    "ingest_svc.handlers.audit_trail",
    "settlement_svc.archiver",
    "settlement_svc.handler",
    "validation_svc.handler",
    "fraud_svc.handler",
)
_PROBE = "; ".join(
    [
        "import importlib, json, sys",
        "importlib.import_module(sys.argv[1])",
        "print(json.dumps(sorted(sys.modules)))",
    ]
)


def loaded_modules(module: str) -> set[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("POWERTOOLS_", "AWS_XRAY"))}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(ROOT / HANDLERS[module]), str(ROOT / "shared")]),
            "AWS_LAMBDA_FUNCTION_NAME": "cold-start-probe",
            "LAMBDA_TASK_ROOT": str(ROOT / HANDLERS[module]),
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, module], capture_output=True, text=True, env=env, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("module", sorted(HANDLERS))
def test_the_tracer_patches_botocore_only(module):
    modules = loaded_modules(module)
    assert "aws_xray_sdk.ext.botocore.patch" in modules
    # patch_all would import every library the X-Ray SDK can patch that happens to be installed.
    assert not {m for m in modules if m.startswith("aws_xray_sdk.ext.") and ".botocore" not in m} - {
        "aws_xray_sdk.ext",
        "aws_xray_sdk.ext.util",
        "aws_xray_sdk.ext.boto_utils",
    }


def test_the_consumer_loads_neither_the_api_models_nor_idempotency():
    modules = loaded_modules("ingest_svc.handlers.consumer")
    assert "ingest_svc.models" not in modules
    assert not {m for m in modules if m.startswith("aws_lambda_powertools.utilities.idempotency")}
    assert not {m for m in modules if m.startswith("aws_lambda_powertools.event_handler.openapi")}


@pytest.mark.parametrize("module", WITHOUT_PYDANTIC)
def test_the_functions_that_read_events_by_hand_load_no_pydantic(module):
    modules = loaded_modules(module)
    assert not {m for m in modules if m.split(".")[0] in ("pydantic", "pydantic_core")}


def test_the_api_builds_no_openapi_document_on_its_cold_start():
    """Powertools' OpenAPI models are loaded on the first request for the Swagger page, not at init."""
    modules = loaded_modules("ingest_svc.handlers.api")
    assert "aws_lambda_powertools.event_handler.openapi.models" not in modules
    assert "aws_lambda_powertools.event_handler.openapi.swagger_ui" not in modules


@pytest.mark.parametrize(
    ("module", "other_functions_module"),
    [
        ("settlement_svc.handler", "settlement_svc.archiving"),
        ("ingest_svc.handlers.counters", "ingest_svc.dal.idempotency"),
        ("ingest_svc.handlers.counters", "ingest_svc.logic.record"),
    ],
)
def test_a_composition_root_shared_by_functions_loads_only_the_calling_functions_adapters(
    module, other_functions_module
):
    assert other_functions_module not in loaded_modules(module)
