# Quick start: `make demo` runs the whole pipeline locally; `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQUIREMENTS := requirements/dev.txt shared/requirements.txt pyproject.toml

.PHONY: help venv browser demo test lint build deploy bench-local bench-coldstart cost chaos load local-up clean

help:
	@echo "make demo         run the whole pipeline locally on the sample batch and show the outcome"
	@echo "make test         run the whole test suite (unit, integration, state machine, infrastructure, e2e)"
	@echo "make lint         ruff, mypy and cfn-lint"
	@echo "make fuzz         schemathesis against the local stack (every check, every route), then the card-data sweep"
	@echo "make build        build the arm64 layer and functions into .aws-sam/build (what sam build does)"
	@echo "make deploy       sam deploy (needs the SAM CLI and AWS credentials)"
	@echo "make bench-local  measure local end-to-end throughput and latency"
	@echo "make bench-coldstart  each function's import + init time against a bare import boto3"
	@echo "make cost         price a local run's counted requests: \$$ per 1M payments by service"
	@echo "make chaos        2,000 payments under a seeded fault plan, then a conservation check (SEED=n N=n)"
	@echo "make load         4 concurrent submitters x 1,000 payments while the pollers drain; none lost"
	@echo "make local-up     serve the local stack until Ctrl-C"

$(STAMP): $(REQUIREMENTS)
	@test -x $(PY) || "$$(.ci/find-python)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

# The e2e suite renders the API's Swagger UI in a real browser: Debian's headless Chromium.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi; \
	  $$sudo apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends chromium; }

demo: $(STAMP)
	$(PY) -m payctl.devtools.demo

test: $(STAMP) browser
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared services payctl
	$(VENV)/bin/cfn-lint template.yaml

# The sweep uses the layer's card-data rules (shared/), which the venv does not install.
fuzz: $(STAMP)
	PYTHONPATH=shared $(PY) -m payctl.devtools.fuzz $(FUZZ_ARGS)

build: $(STAMP)
	$(PY) -m payctl.devtools.build

deploy: build
	sam deploy --config-env $${SAM_CONFIG_ENV:-default}

bench-local: $(STAMP)
	$(PY) -m payctl.devtools.bench

bench-coldstart: $(STAMP)
	$(PY) -m payctl.devtools.coldstart

cost: $(STAMP)
	$(PY) -m payctl.devtools.cost

# The same SEED replays the same fault decisions; N is the number of payments.
SEED ?= 1
N ?= 2000
chaos: $(STAMP)
	$(PY) -m payctl.devtools.chaos --seed $(SEED) --payments $(N)

# Four submitters send 1,000 payments each while the pollers drain; every accepted one must end
# terminal. (`make test` runs the same test with 150 each.)
load: $(STAMP)
	PAYCTL_LOAD_PER_SUBMITTER=$${PER_SUBMITTER:-1000} $(PY) -m pytest -q tests/e2e/test_e2e_concurrency.py

local-up: $(STAMP)
	$(PY) -m payctl local up

clean:
	rm -rf .aws-sam build .pytest_cache .mypy_cache .ruff_cache .payctl
