# sluicegate's task runner. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PY := .venv/bin/python
PYTEST := $(PY) -m pytest
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: help setup up test test-unit test-integration test-e2e check lint protos protos-check buf bench fmt

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

setup: .venv/.setup-done ## install Redis, the venv with every service, Envoy and buf (idempotent)

.venv/.setup-done: scripts/setup.sh requirements-dev.txt package-lock.json libs/pyproject.toml $(wildcard services/*/pyproject.toml) tools/mock-upstream/pyproject.toml
	./scripts/setup.sh
	touch $@

up: setup ## run the whole stack (mock upstream when no provider key is set) behind Envoy on :8080
	$(PY) -m sluicegate.devstack up $(ARGS)

test: setup ## run every test tier: unit, integration, e2e
	$(PYTEST) tests/unit tests/integration tests/e2e -q

test-unit: setup ## domain code and servicers called directly
	$(PYTEST) tests/unit -q

test-integration: setup ## real servers on port 0 and a real Redis
	$(PYTEST) tests/integration -q

test-e2e: setup ## the whole stack through Envoy, Python and Node clients
	$(PYTEST) tests/e2e -q

check: setup lint buf protos-check ## lint, proto checks, generated-code cleanliness

lint: ## ruff over the Python code
	$(PY) -m ruff check libs services tools tests scripts
	$(PY) -m ruff format --check libs services tools tests scripts

fmt: ## format the Python code
	$(PY) -m ruff check --fix libs services tools tests scripts
	$(PY) -m ruff format libs services tools tests scripts

protos: ## regenerate the Python stubs into libs/sluicegate
	./scripts/gen_protos.sh

protos-check: protos ## fail when the committed stubs differ from a fresh generation
	@git diff --exit-code --stat -- 'libs/sluicegate/*/v1' || { echo "generated stubs are stale: run make protos and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- 'libs/sluicegate/*/v1')" || { echo "untracked generated files: run make protos and commit"; exit 1; }

buf: ## buf format, lint (STANDARD) and breaking (against main, once main has protos)
	npx --no-install buf format --diff --exit-code protos
	npx --no-install buf lint
	./scripts/buf_breaking.sh

bench: setup ## end-to-end overhead and throughput through Envoy
	$(PY) -m sluicegate.devstack.bench $(ARGS)
